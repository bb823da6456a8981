"""Atomic file writes: a crash or Ctrl-C never leaves a half-written file behind, and a path that
cannot be written is a one-line error naming it, never a traceback."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from r2e.errors import R2EError


class UnwritablePath(R2EError, OSError):
    """A path that cannot be written: a one-line error naming it (still an OSError for callers that catch those)."""

    def __init__(self, path: Path | str, exc: OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        R2EError.__init__(self, f"cannot write {path}: {reason}")
        self.errno, self.strerror, self.filename = exc.errno, reason, str(path)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # crosses process pools intact
        return UnwritablePath, (self.filename, OSError(self.errno, self.strerror))


def _ensure_dir(folder: Path, target: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, /proc, /sys, read-only or full disks
        raise UnwritablePath(target, exc) from None
    if not folder.is_dir():
        raise UnwritablePath(target, NotADirectoryError(20, f"{folder} is not a folder"))


def atomic_write_bytes(path: Path | str, data: bytes, durable: bool = True) -> None:
    """Write to a temp file in the same folder, fsync, then rename over the target.

    `durable=False` skips the fsync (still atomic): for caches that are validated on read.
    Any OSError becomes `UnwritablePath`, naming the path."""
    path = Path(path)
    _ensure_dir(path.parent, path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UnwritablePath(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, UnwritablePath):
            raise UnwritablePath(path, exc) from None
        raise


def atomic_write_text(path: Path | str, text: str, durable: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), durable)


def atomic_write_json(path: Path | str, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def atomic_write_jsonl(path: Path | str, records: Iterable[Any]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, default=str) + "\n" for r in records))


def read_json(path: Path | str, default: Any = None) -> Any:
    path = Path(path)
    if not path.exists():
        return default
    return json.loads(path.read_text(encoding="utf-8"))


def read_jsonl(path: Path | str) -> list[Any]:
    path = Path(path)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@contextlib.contextmanager
def file_lock(path: Path | str) -> Iterator[None]:
    """An advisory inter-process lock, so concurrent r2e runs don't lose each other's updates."""
    path = Path(path)
    _ensure_dir(path.parent, path)
    try:
        fh = open(path, "a+")
    except OSError as exc:
        raise UnwritablePath(path, exc) from None
    with fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
