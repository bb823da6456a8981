"""Host-side reads of a repository's files that never leave the repository.

The install plan and the import scan run on the host, whatever the backend, so a repository could
point them at host files (a `requirements.txt` symlinked to a secret, `-r /abs/path`). Every path
is resolved (symlinks included) and checked to be inside the repository before it is read;
anything else is refused, recorded, and never read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_READ_BYTES = 5_000_000


class RepoFiles:
    """One repository's files, read only when they resolve inside it; refusals are kept in `refused`."""

    def __init__(self, repo: Path | str, max_bytes: int = MAX_READ_BYTES):
        self.repo = Path(repo)
        self.root = self.repo.resolve()
        self.max_bytes = max_bytes
        self.refused: list[str] = []

    def refuse(self, what: str, why: str) -> None:
        line = f"{what}: {why}; not read"
        if line not in self.refused:
            self.refused.append(line)

    def label(self, path: Path | str) -> str:
        """The path as the repository names it (relative), for records; never a resolved host path."""
        path = Path(path)
        for base in (self.repo, self.root):
            try:
                return str(path.relative_to(base))
            except ValueError:
                pass
        return str(path)

    def is_inside(self, real: Path) -> bool:
        return real == self.root or self.root in real.parents

    def inside(self, path: Path | str, what: str | None = None) -> Path | None:
        """The resolved path if it exists and resolves inside the repository, else None (refusals recorded)."""
        path = Path(path)
        if not path.is_absolute():
            path = self.repo / path
        what = what or self.label(path)
        try:
            if not path.exists() and not path.is_symlink():
                # a lexical escape (`../x`, `/abs`) is refused even when nothing is there
                if not self.is_inside(Path(os.path.normpath(self._rebase(path)))):
                    self.refuse(what, "outside the repository")
                return None
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # symlink loops, dangling links, permission
            self.refuse(what, "unresolvable path")
            return None
        if not self.is_inside(real):
            self.refuse(what, "resolves outside the repository")
            return None
        return real

    def _rebase(self, path: Path) -> Path:
        try:
            return self.root / path.relative_to(self.repo)
        except ValueError:
            return path

    def is_file(self, path: Path | str) -> bool:
        real = self.inside(path)
        return real is not None and real.is_file()

    def is_dir(self, path: Path | str) -> bool:
        real = self.inside(path)
        return real is not None and real.is_dir()

    def read_walked(self, path: Path) -> str | None:
        """`read_text` for a path found by walking the repository without following symlinked folders:
        only a symlink itself can lead outside, so a plain file skips the (costly) resolution."""
        try:
            plain = stat.S_ISREG(os.lstat(path).st_mode)
        except OSError:
            return None
        return self._read(path, self.label(path)) if plain else self.read_text(path)

    def read_text(self, path: Path | str, what: str | None = None) -> str | None:
        """The text of a regular file inside the repository, or None (missing, refused, too big, unreadable)."""
        path = Path(path)
        what = what or self.label(path if path.is_absolute() else self.repo / path)
        real = self.inside(path, what)
        if real is None or not real.is_file():  # FIFOs and devices are not read either
            return None
        return self._read(real, what)

    def _read(self, real: Path, what: str) -> str | None:
        try:
            if real.stat().st_size > self.max_bytes:
                self.refuse(what, f"larger than {self.max_bytes} bytes")
                return None
            # O_NOFOLLOW: a file swapped for a symlink after the check is still not followed
            with os.fdopen(os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb") as fh:
                data = fh.read(self.max_bytes + 1)
        except OSError as exc:
            self.refuse(what, f"unreadable ({exc.strerror or type(exc).__name__})")
            return None
        return data[: self.max_bytes].decode("utf-8", errors="replace")

