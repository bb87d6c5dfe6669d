"""Safe, streaming layer extraction: ``extract_layer``.

Two modes:

* ``apply``: flatten the layer onto ``dest_root`` (which may hold lower layers), with
  OCI whiteout semantics: ``.wh.<name>`` deletes lower ``<name>``; ``.wh..wh..opq``
  hides every lower entry of its directory but keeps what the same layer adds (order
  in the tar does not matter: markers are applied after the stream, against the set of
  paths this layer wrote). A whiteout never deletes something the same layer wrote.
* ``overlay``: extract into an empty directory to be an overlayfs lower dir: whiteouts
  become 0/0 character devices, opaque markers the ``trusted.overlay.opaque=y`` xattr.

Safety (the layer is untrusted input): names are normalised like Docker's (leading
``/`` stripped) and ``..`` refused; every parent is resolved inside the root by
``RootDir`` with ``O_NOFOLLOW`` (a symlink on the way is refused, never followed);
files are created with ``O_EXCL|O_NOFOLLOW`` after removing what was there; hardlink
targets are resolved the same way, must exist in the root, must not be whiteouts and
must not be given as absolute names; ``trusted.overlay.*`` xattrs from a layer are
refused (they would steer overlayfs); ``ExtractLimits`` bounds entry count and bytes.
Memory stays bounded: the tar is streamed in 1 MiB blocks, only per-entry bookkeeping
(paths written, directories to finish) is kept. If extraction fails, ``dest_root`` is
left half-written (the caller discards it) but nothing outside it has been touched.

Measured (2 cores, 20k files / 78 MB uncompressed tar, source and target on tmpfs so
the disk does not dominate; best of 3): GNU tar 0.37 s; ``extract_layer`` 1.29 s (1.86 s
from the isal-gzipped tar); libarchive-c's own ``extract_file`` 1.26 s (no whiteouts,
its own path rules); stdlib ``extractall`` 3.08 s (``filter='fully_trusted'``) and
4.44 s (``filter='tar'``). Reading alone (parse + data, no writes): stdlib ``'r|'``
1.06 s, libarchive-c 0.33 s, hence libarchive as the reader. On this VM's ext4 all
tools, GNU tar included, were bound by writeback (15-21 s), so tmpfs numbers compare CPU.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from mason.errors import DigestMismatchError, LayerError
from mason.tarfs.applier import Applier
from mason.tarfs.keptrule import KeptRule
from mason.tarfs.readahead import ReadAhead
from mason.tarfs.compress import Compression, compression_from_media_type, detect_compression, \
    open_decompressor
from mason.tarfs.reader import Member, open_tar_stream
from mason.tarfs.devices import SAFE_DEVICES  # noqa: F401  (re-exported: the extraction callers pass it)


@dataclass(frozen=True)
class ExtractLimits:
    """Refuse tar bombs: at most ``max_entries`` members, at most ``max_bytes`` of
    uncompressed tar stream and of declared file sizes (sparse files count in full)."""

    max_entries: int = 2_000_000
    max_bytes: int = 128 * 1024 ** 3
    # what the refusal tells the user to change (the caller knows its own option's name)
    entries_hint: str = "raise ExtractLimits.max_entries if the layer is genuine"


@dataclass(frozen=True)
class ExtractOptions:
    """``same_owner``: chown to the layer's uid/gid (needs root or a user namespace
    mapping them; otherwise a LayerError says so). ``xattrs``: restore xattrs
    (``security.capability`` needs CAP_SETFCAP; a failure is an error, not a skip).
    ``allow_devices``: create char/block devices; when false a device entry raises
    LayerError (fifos are always created: they need no privilege); ``allowed_devices`` narrows
    that to character devices with these (major, minor) numbers (see SAFE_DEVICES). ``cancel``: an object with
    ``is_set()`` (a ``threading.Event``) checked before every entry, so an extraction in a worker
    thread stops promptly when the build is interrupted (LayerError "cancelled"). ``skeleton``: regular files and hardlinks are not created
    (whatever was at their path is still removed); their in-root paths ("/a/b") are returned in
    ``ExtractResult.skipped``: directories, links and whiteouts only, for a COPY that needs to
    know the shape of a lower layer but none of its file contents. ``kept``: paths of the root
    this layer is not applied to (``mason.tarfs.keptrule``; apply mode only)."""

    mode: Literal["apply", "overlay"] = "apply"
    allow_devices: bool = True
    same_owner: bool = True
    xattrs: bool = True
    limits: ExtractLimits = ExtractLimits()
    cancel: object | None = field(default=None, compare=False)
    allowed_devices: frozenset[tuple[int, int]] | None = None
    skeleton: bool = False
    kept: KeptRule | None = field(default=None, compare=False)




@dataclass(frozen=True)
class ExtractResult:
    """What extracting a layer found: its compression, diff_id, size and entries."""

    compression: Compression
    diff_id: str
    tar_size: int
    entries: int
    skipped: frozenset[str] = frozenset()


class _HashingReader:
    """Hashes and counts the uncompressed tar (diff_id) and enforces the byte limit."""

    def __init__(self, stream: BinaryIO, limit: int, label: str):
        self._stream = stream
        self._limit = limit
        self._label = label
        self.sha = hashlib.sha256()
        self.size = 0

    def readinto(self, buf) -> int:
        n = self._stream.readinto(buf)
        if n:
            self.sha.update(memoryview(buf)[:n])
            self.size += n
            if self.size > self._limit:
                raise LayerError(f"layer {self._label}: uncompressed size exceeds the limit of "
                                 f"{self._limit} bytes", hint="raise ExtractLimits.max_bytes if "
                                 "the layer is genuine")
        return n or 0


def _drain(stream) -> None:
    """Read ``stream`` to its end (the bytes after a tar's last member count for its diff_id)."""
    buf = bytearray(1024 * 1024)
    while stream.readinto(buf):
        pass


def extract_layer(source: Path | BinaryIO, dest_root: Path, *,
                  media_type: str | None = None, options: ExtractOptions = ExtractOptions(),
                  expected_diff_id: str | None = None, record: list[Member] | None = None) -> ExtractResult:
    """Extract one layer blob (a path or a readable binary stream) into ``dest_root``.

    The compression is detected from magic bytes (as containerd does); ``media_type``,
    when given, must be a known layer type. ``expected_diff_id`` is checked against the
    sha256 of the uncompressed tar (DigestMismatchError) after the whole stream is read.
    ``record``: every member's header is appended to it as it is applied (no file data), for
    ``apply_skeleton``; the caller keeps it only if the extraction (and its diff_id check)
    succeeded.
    """
    if media_type is not None:
        compression_from_media_type(media_type)
    if options.mode not in ("apply", "overlay"):
        raise LayerError(f"unknown extraction mode {options.mode!r}: use 'apply' or 'overlay'")
    label = str(source) if isinstance(source, (str, Path)) else getattr(source, "name", "<stream>")
    dest_root = Path(dest_root)
    _prepare_dest(dest_root, options.mode)
    owned = None
    try:
        if isinstance(source, (str, Path)):
            try:
                owned = open(source, "rb", buffering=1024 * 1024)
            except OSError as err:
                raise LayerError(f"cannot open layer {source}: {err.strerror}") from err
            raw = owned
        else:
            raw = source
        return _extract(raw, dest_root, label, options, expected_diff_id, record)
    finally:
        if owned is not None:
            owned.close()


def _prepare_dest(dest_root: Path, mode: str) -> None:
    try:
        dest_root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise LayerError(f"cannot create extraction root {dest_root}: {err.strerror}") from err
    if mode == "overlay" and any(dest_root.iterdir()):
        raise LayerError(f"overlay extraction needs an empty directory; {dest_root} is not empty")


class _RawAdapter:
    """Gives ``io.BufferedReader`` the raw-stream face it wants (``closed``, ``readinto``)
    for any object with ``read``, such as a verifying registry or layout stream."""

    def __init__(self, stream):
        self._stream = stream
        self.closed = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.closed = True


def _extract(raw: BinaryIO, dest_root: Path, label: str, options: ExtractOptions,
             expected_diff_id: str | None, record: list[Member] | None = None) -> ExtractResult:
    with Applier(dest_root, options, label) as applier:
        sink = applier if record is None else _Recording(applier, record)
        result = read_layer(raw, label, sink, options, expected_diff_id)
    return result


class _Recording:
    """An ``Applier`` that also keeps each member's header (``extract_layer``'s ``record``)."""

    def __init__(self, applier: Applier, record: list[Member]):
        self._applier = applier
        self._record = record

    def add(self, m: Member, tar) -> None:
        self._applier.add(m, tar)
        self._record.append(m)

    def finish(self) -> None:
        self._applier.finish()

    @property
    def entries(self) -> int:
        return self._applier.entries

    @property
    def skipped(self) -> set[str]:
        return self._applier.skipped


def apply_skeleton(members: list[Member], dest_root: Path, *, label: str,
                   options: ExtractOptions) -> frozenset[str]:
    """The skeleton (``options.skeleton``) of a layer whose members an earlier, verified
    extraction recorded, made from those headers: the same ``Applier`` and policy as
    ``extract_layer`` on the blob, without decompressing or parsing it again. A skeleton
    reads no file data, so headers are all it needs. Returns the in-root paths left out."""
    if not options.skeleton:
        raise LayerError("apply_skeleton makes skeletons only: file contents were not recorded")
    _prepare_dest(Path(dest_root), options.mode)
    with Applier(Path(dest_root), options, label) as applier:
        for m in members:
            _check_cancelled(options, label)
            applier.add(m, None)
        applier.finish()
        return frozenset(applier.skipped)


def read_headers(source: Path, *, label: str, limits: ExtractLimits = ExtractLimits(),
                 expected_diff_id: str | None = None) -> list[Member]:
    """Every member's header of the layer blob at ``source`` (no file data kept, nothing
    written), read under the same limits and diff_id check as an extraction."""
    headers: list[Member] = []
    with open(source, "rb", buffering=1024 * 1024) as raw:
        read_layer(raw, label, _Headers(headers), ExtractOptions(limits=limits), expected_diff_id)
    return headers


class _Headers:
    """A ``read_layer`` sink keeping headers only."""

    entries = 0
    skipped: frozenset[str] = frozenset()

    def __init__(self, out: list[Member]):
        self._out = out

    def add(self, member: Member, tar) -> None:
        self._out.append(member)
        self.entries += 1

    def finish(self) -> None:
        pass


def _check_cancelled(options: ExtractOptions, label: str) -> None:
    """Checked before each member: an extraction stops promptly when the build is interrupted."""
    cancel = options.cancel
    if cancel is not None and cancel.is_set():
        raise LayerError(f"layer {label}: extraction cancelled (the build is stopping)")


def read_layer(raw: BinaryIO, label: str, sink, options: ExtractOptions,
               expected_diff_id: str | None) -> ExtractResult:
    """Decompress, parse and hash one layer stream, handing every member to ``sink``
    (``add(member, tar)``, then ``finish()``; ``entries`` and ``skipped`` are read after).

    The extraction into a directory and the EROFS image writer share this loop, so both see
    the same limits, cancellation, trailing-data hashing and diff_id check."""
    import io
    buffered = raw if hasattr(raw, "peek") else io.BufferedReader(_RawAdapter(raw), 1 << 20)
    compression = detect_compression(buffered.peek(4)[:4])
    try:
        decompressed = open_decompressor(buffered, compression)
    except Exception as err:  # noqa: BLE001 - any failure to start decoding is the blob's
        raise LayerError(f"layer {label}: cannot start {compression.value} decoding: {err}") from err
    hashing = _HashingReader(decompressed, options.limits.max_bytes, label)
    with ReadAhead(hashing) as ahead, open_tar_stream(ahead, label) as tar:
        for member in tar.members():
            _check_cancelled(options, label)
            sink.add(member, tar)
        sink.finish()
        try:
            _drain(ahead)  # the rest (end blocks, padding) is part of the diff_id
        except LayerError:
            raise
        except Exception as err:  # noqa: BLE001 - decoder errors (bad CRC, truncation)
            raise LayerError(f"layer {label}: cannot read the stream after the last entry: "
                             f"{err}") from err
    diff_id = f"sha256:{hashing.sha.hexdigest()}"
    if expected_diff_id is not None and diff_id != expected_diff_id:
        raise DigestMismatchError(f"layer {label}: uncompressed content has diff_id {diff_id}, "
                                  f"expected {expected_diff_id}")
    return ExtractResult(compression=compression, diff_id=diff_id, tar_size=hashing.size,
                         entries=sink.entries, skipped=frozenset(sink.skipped))
