"""Find the source files of a repository, skipping what must not be analysed, and count why."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".venv", "venv", "env", ".env", "node_modules", "build", "site-packages",
    "__pycache__", ".tox", ".nox", ".eggs", ".mypy_cache", ".pytest_cache",
})
MAX_BYTES = 1_000_000


@dataclass
class Walk:
    files: list[tuple[str, str]] = field(default_factory=list)  # (repo-relative POSIX path, language)
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    examples: dict[str, str] = field(default_factory=dict)  # reason -> one path, for the summary


def is_binary(head: bytes) -> bool:
    return b"\0" in head


def walk(root: str, extensions: dict[str, str], max_bytes: int = MAX_BYTES) -> Walk:
    """Regular files with a known extension under `root`; symlinks are never followed."""
    out = Walk()

    def skip(reason: str, rel: str) -> None:
        out.skipped[reason] += 1
        out.examples.setdefault(reason, rel)

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=lambda e: skip("unreadable", str(e.filename))):
        rel_dir = os.path.relpath(dirpath, root)
        keep = []
        for d in sorted(dirnames):
            rel = d if rel_dir == "." else f"{rel_dir}/{d}"
            if d in SKIP_DIRS or d.endswith(".egg-info"):
                skip("vendored_dir", rel)
            elif os.path.islink(os.path.join(dirpath, d)):
                skip("symlink", rel)
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            dot = name.rfind(".")
            lang = extensions.get(name[dot:]) if dot > 0 else None
            if lang is None:
                continue
            full = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
            if os.path.islink(full):
                skip("symlink", rel)
                continue
            try:
                size = os.path.getsize(full)
                if size > max_bytes:
                    skip("too_large", rel)
                    continue
                with open(full, "rb") as fh:
                    head = fh.read(8192)
            except OSError:
                skip("unreadable", rel)
                continue
            if is_binary(head):
                skip("binary", rel)
                continue
            out.files.append((rel, lang))
    return out
