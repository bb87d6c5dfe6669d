"""The layers a stage is made of, and how they become directories on demand.

A ``LayerRef`` is a layer as the build knows it: its blob (descriptor + how to open it +
where it lives, so a push can mount it instead of uploading) and, once something needs the
filesystem, its extracted directory in overlay lower-dir format. Base layers start without a
directory (extracted lazily into the shared ``LayerStore``); a step's own layer starts with
its overlay upper dir, which already is that format.
"""

from __future__ import annotations

import contextlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterator

from mason.executor.layerstore import LayerStore
# at module level: imported lazily from stage threads it raced (a partially initialised module)
from mason.tarfs.extract import SAFE_DEVICES, ExtractOptions, extract_layer
from mason.errors import BuildError, DigestMismatchError, LayerError, SourceRange
from mason.oci.descriptor import Descriptor

if TYPE_CHECKING:   # layershapes imports nothing from here; only its type is named
    from mason.executor.layershapes import LayerShapes


@dataclass(frozen=True)
class BaseOrigin:
    """The FROM a base layer came in by: a broken or hostile layer is that line's error, naming
    the image (``base:1@sha256:…``), whichever later step first needed its files."""

    source: SourceRange
    base: str                  # the FROM's image as written (expanded)
    image: str                 # the image resolved: ``base@sha256:…``


_LABEL = re.compile(r"^layer \S+: ")


@contextlib.contextmanager
def base_errors(ref: "LayerRef") -> Iterator[None]:
    """Re-raise a base layer's LayerError (or diff_id mismatch) at its FROM line: ``Dockerfile:1:
    FROM base:1: layer sha256:… of base:1@sha256:…: <what is wrong>``, with the FROM's
    ``SourceRange``. Errors of a step's own layers, and every other error, pass unchanged."""
    try:
        yield
    except (LayerError, DigestMismatchError) as exc:
        origin = ref.base
        if origin is None or exc.source is not None:
            raise
        src = origin.source
        what = _LABEL.sub("", exc.message)
        raise type(exc)(f"{src.file}:{src.start_line}: FROM {origin.base}: layer {ref.descriptor.digest} "
                        f"of {origin.image}: {what}", hint=exc.hint, source=src) from exc


@dataclass
class LayerRef:
    """One layer of a stage's image: its digests and how to read its blob."""

    diff_id: str
    descriptor: Descriptor
    opener: Callable[[], BinaryIO] = field(repr=False)   # the compressed blob as stored
    origin: object | None = None                          # mason.image.view.Origin, for mounts
    directory: Path | None = None
    produced_in: Path | None = None                       # walk mode: root already holding it
    base: BaseOrigin | None = None                        # a base image's layer: the FROM it came by
    blob_path: Path | None = None                         # a step's own layer: its blob, written here


def apply_onto(ref: LayerRef, root: Path, *, shapes: "LayerShapes", limits=None, kept=None) -> None:
    """Extract ``ref``'s blob onto ``root`` in apply mode (the walk strategies' stage roots,
    host-root's ``/`` with its ``kept`` rule), its headers kept in ``shapes``; its errors are its
    FROM line's (``base_errors``). ``limits``: the build's ExtractLimits (None: tarfs's)."""
    log = shapes.recorder(ref.diff_id)
    options = ExtractOptions(mode="apply", allowed_devices=SAFE_DEVICES, kept=kept,
                             **({"limits": limits} if limits else {}))
    with base_errors(ref), ref.opener() as blob:
        extract_layer(blob, root, media_type=ref.descriptor.media_type, options=options,
                      expected_diff_id=ref.diff_id, record=log)
    shapes.keep(ref.diff_id, log)


def layer_refs_of(image, base: BaseOrigin | None = None) -> list[LayerRef]:
    """LayerRefs for every layer of an ``mason.image.Image`` view (nothing is read yet);
    ``base``: the FROM that brought them, where their errors are reported."""
    return [LayerRef(layer.diff_id, layer.descriptor, layer.open, image.origin, base=base)
            for layer in image.layers]


def materialize(layers: list[LayerRef], store: LayerStore, *, jobs: int = 2,
                shapes: "LayerShapes | None" = None) -> list[Path]:
    """Make sure every layer has an extracted directory; return them bottom-most first.

    Distinct layers extract in parallel (each into its own directory, so order does not
    matter); a layer already in the store costs one ``stat``. ``shapes``: where the headers
    of the layers extracted here are kept (host-root's skeletons are made from them).
    """

    cancel = threading.Event()
    options = ExtractOptions(mode="overlay", cancel=cancel, allowed_devices=SAFE_DEVICES, limits=store.limits)

    def one(ref: LayerRef) -> None:
        if ref.directory is not None:
            return

        def extract(dest: Path) -> None:
            log = shapes.recorder(ref.diff_id) if shapes is not None else None
            with ref.opener() as blob:
                extract_layer(CancellableStream(blob, cancel), dest, media_type=ref.descriptor.media_type, options=options,
                              expected_diff_id=ref.diff_id, record=log)
            if shapes is not None:
                shapes.keep(ref.diff_id, log)

        def write_image(image: Path) -> None:
            from mason.erofs.image import build_image  # only where EROFS layer images are in use

            with ref.opener() as blob:
                build_image(CancellableStream(blob, cancel), image, media_type=ref.descriptor.media_type,
                            options=options, expected_diff_id=ref.diff_id)

        with base_errors(ref):
            ref.directory = store.lower(ref.diff_id, extract, write_image)

    missing = [ref for ref in layers if ref.directory is None]
    if len(missing) <= 1 or jobs <= 1:
        for ref in missing:
            one(ref)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(one, ref) for ref in missing]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                # SIGINT/SIGTERM (or a failed sibling) unwinds the main thread; without this the
                # pool's exit would wait for every other extraction to run to its end.
                cancel.set()
                for future in futures:
                    future.cancel()
                raise
    return [ref.directory for ref in layers]  # type: ignore[misc]


class CancellableStream:
    """A blob stream whose next read fails once ``cancel`` is set, so an extraction in a worker
    thread stops within one read; the store then discards its temporary directory. ``error``
    makes the exception raised (a stopping build, or a stage cancelled by a failed sibling).
    A read blocked on a slow registry is woken by the build's ``CancelToken`` (it cuts the
    registry client's connections), not by this."""

    def __init__(self, stream: BinaryIO, cancel: threading.Event, error: Callable[[], Exception] | None = None):
        self._stream = stream
        self._cancel = cancel
        self._error = error or (lambda: BuildError("layer extraction cancelled: the build is stopping"))

    def _check(self) -> None:
        if self._cancel.is_set():
            raise self._error()

    def read(self, n: int = -1) -> bytes:
        self._check()
        return self._stream.read(n)

    def readinto(self, buffer) -> int:
        self._check()
        return self._stream.readinto(buffer)

    def readable(self) -> bool:
        return True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc) -> None:
        abort = getattr(self._stream, "abort", None)
        if exc_type is not None and abort is not None:
            abort()     # an extraction that failed or was cut reads no further (no drain)
        else:
            self._stream.close()

    def __getattr__(self, name):
        return getattr(self._stream, name)
