"""The image configuration a stage accumulates, step by step, with Docker's semantics.

Each instruction that only changes metadata (ENV, LABEL, EXPOSE, ...) maps to one method here;
they take values that the Dockerfile front end has already expanded. The object is a plain
mutable value owned by exactly one stage of one build; ``snapshot()`` hands out deep copies.
"""

from __future__ import annotations

import copy
import posixpath
from typing import Any, Iterable

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")
HISTORY_COMMENT = "buildkit.dockerfile.v0"


class StageConfig:
    """The OCI image configuration a stage is building (``config``, ``rootfs``, ``history``)."""

    def __init__(self, base: dict[str, Any] | None = None, *, os_name: str = "linux",
                 architecture: str = "amd64", variant: str | None = None):
        doc = copy.deepcopy(base) if base else {}
        self.doc: dict[str, Any] = doc
        doc.setdefault("architecture", architecture)
        doc.setdefault("os", os_name)
        if variant and "variant" not in doc:
            doc["variant"] = variant
        doc.setdefault("config", {})
        if not base:
            # BuildKit's emptyImage: only FROM scratch gets "/"; a base image's WorkingDir
            # (often empty) is kept as it is
            doc["config"]["WorkingDir"] = "/"
        doc["rootfs"] = {"type": "layers", "diff_ids": list(doc.get("rootfs", {}).get("diff_ids", []))}
        doc["history"] = list(doc.get("history", []))
        # CMD set in this stage survives a later ENTRYPOINT; an inherited one does not.
        self.cmd_set_in_stage = False
        # ONBUILD triggers are not inherited further than one generation.
        self.config.pop("OnBuild", None)

    # --- accessors -------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        return self.doc["config"]

    @property
    def env(self) -> list[str]:
        return list(self.config.get("Env") or [])

    def env_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.env:
            key, _, value = item.partition("=")
            out[key] = value
        return out

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    @property
    def workdir(self) -> str:
        return self.config.get("WorkingDir") or "/"

    @property
    def user(self) -> str:
        return self.config.get("User") or ""

    @property
    def diff_ids(self) -> list[str]:
        return list(self.doc["rootfs"]["diff_ids"])

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.doc)

    # --- instructions ----------------------------------------------------------------------
    def set_env(self, pairs: Iterable[tuple[str, str]]) -> None:
        # An index by name, kept while ``Env`` is the list this method wrote: a stage of N ENV
        # lines costs O(N) list copies, not O(N) scans each (20,000 ENV lines took minutes).
        current = self.config.get("Env")
        cached = getattr(self, "_env_index", None)
        if cached is None or cached[0] is not current:
            index = {e.partition("=")[0]: e for e in current or []}
        else:
            index = cached[1]
        for key, value in pairs:
            index.pop(key, None)
            index[key] = f"{key}={value}"
        env = list(index.values())
        self.config["Env"] = env
        self._env_index = (env, index)

    def ensure_default_path(self) -> None:
        """Docker gives images without PATH the default one (BuildKit does this at FROM)."""
        if "PATH" not in self.env_map():
            self.set_env([("PATH", DEFAULT_PATH)])

    def add_labels(self, pairs: Iterable[tuple[str, str]]) -> None:
        labels = dict(self.config.get("Labels") or {})
        for key, value in pairs:
            labels[key] = value
        self.config["Labels"] = labels

    def expose(self, ports: Iterable[str]) -> None:
        exposed = dict(self.config.get("ExposedPorts") or {})
        for port in ports:
            exposed[port] = {}
        self.config["ExposedPorts"] = exposed

    def add_volumes(self, paths: Iterable[str]) -> None:
        volumes = dict(self.config.get("Volumes") or {})
        for path in paths:
            volumes[path] = {}
        self.config["Volumes"] = volumes

    def set_user(self, user: str) -> None:
        self.config["User"] = user

    def set_workdir(self, path: str) -> str:
        """Set WORKDIR (relative paths join the previous one); returns the absolute path."""
        new = posixpath.normpath(posixpath.join(self.workdir, path))
        if not new.startswith("/"):
            new = "/" + new
        self.config["WorkingDir"] = new
        return new

    def set_cmd(self, argv: list[str]) -> None:
        self.config["Cmd"] = list(argv)
        self.cmd_set_in_stage = True

    def set_entrypoint(self, argv: list[str]) -> None:
        self.config["Entrypoint"] = list(argv)
        if not self.cmd_set_in_stage:
            self.config["Cmd"] = None

    def set_shell(self, argv: list[str]) -> None:
        self.config["Shell"] = list(argv)

    def set_stopsignal(self, signal: str) -> None:
        self.config["StopSignal"] = signal

    def set_healthcheck(self, healthcheck: dict[str, Any] | None) -> None:
        """``None`` or ``{"Test": ["NONE"]}`` disables; otherwise Docker's Healthcheck object."""
        self.config["Healthcheck"] = healthcheck

    def add_onbuild(self, trigger: str) -> None:
        self.config["OnBuild"] = list(self.config.get("OnBuild") or []) + [trigger]

    # --- layers and history ----------------------------------------------------------------
    def add_layer(self, diff_id: str, created_by: str, created: str | None) -> None:
        self.doc["rootfs"]["diff_ids"].append(diff_id)
        self._history(created_by, created, empty_layer=False)

    def add_empty_history(self, created_by: str, created: str | None) -> None:
        self._history(created_by, created, empty_layer=True)

    def _history(self, created_by: str, created: str | None, *, empty_layer: bool) -> None:
        entry: dict[str, Any] = {}
        if created:
            entry["created"] = created
        entry["created_by"] = created_by
        entry["comment"] = HISTORY_COMMENT
        if empty_layer:
            entry["empty_layer"] = True
        self.doc["history"].append(entry)

    def finish(self, created: str | None, *, from_history: bool = False) -> dict[str, Any]:
        """The final config document (a copy), with ``created`` set and empty fields dropped.

        ``from_history`` (times not fixed): as BuildKit's exporter, history entries without a
        time get the first new layer's (or the previous entry's), and ``created`` is the last
        entry's, so a build whose layers all come from the cache is the same image."""
        doc = self.snapshot()
        if from_history:
            created = fill_history_times(doc["history"]) or created
        if created:
            doc["created"] = created
        cfg = doc["config"]
        for key in [k for k, v in cfg.items() if v is None or v == {} or v == []]:
            # Docker omits empty optional fields; an explicit empty Cmd/Entrypoint stays absent too.
            del cfg[key]
        return doc


def fill_history_times(history: list[dict[str, Any]]) -> str | None:
    """Give entries without ``created`` BuildKit's times (exporter/containerimage/writer.go):
    the first time after the first untimed entry, then each timed entry's for those after it.
    Returns the last entry's time (None when no entry has one)."""
    created, untimed = None, False
    for entry in history:
        if entry.get("created"):
            created = entry["created"]
            if untimed:
                break
        else:
            untimed = True
    untimed = False
    for i, entry in enumerate(history):
        if entry.get("created"):
            if untimed:
                created = entry["created"]
        else:
            untimed = True
            if created:
                history[i] = {"created": created, **entry}   # the key where an entry's own time is
    return history[-1].get("created") if history else None

