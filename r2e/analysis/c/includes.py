"""Where `#include "x.h"` points inside a repository.

Include directories come from `compile_commands.json` (its `-I`/`-iquote`/`-isystem` flags, when
they lie inside the repository) or, without one, are guessed from the tree: the root, `include/`,
`src/`, `lib/` and every folder that holds headers. A quoted include resolves relative to the
including file first, then against those directories, then (last resort) to the only header of
that name in the repository. System includes (`<...>`) resolve only when the header is in the repo,
against the system directories: all of compile_commands.json's, but of the guessed ones only the
root, `include/`, `src/` ... (a `<poll.h>` is the system's even when `adapters/poll.h` exists),
then, for a header the machine does not have, the other folders too; otherwise they stay include
lines.
"""

from __future__ import annotations

import json
import os
import posixpath
import shlex
from pathlib import Path

GUESSED_DIRS = ("", "include", "src", "lib", "source")


def include_dirs(root: str | Path, paths: list[str]) -> tuple[list[str], str]:
    """Repo-relative include directories and where they came from ("compile_commands" | "guessed")."""
    root = Path(root)
    for cand in (root / "compile_commands.json", root / "build" / "compile_commands.json"):
        dirs = _from_compile_commands(root, cand)
        if dirs is not None:
            return dirs, "compile_commands"
    header_dirs = sorted({posixpath.dirname(p) for p in paths if p.endswith(".h")})
    present = set()
    for p in paths:
        d = posixpath.dirname(p)
        while d and d not in present:
            present.add(d)
            d = posixpath.dirname(d)
    dirs = [d for d in GUESSED_DIRS if d == "" or d in present]
    dirs += sorted(d for d in present if posixpath.basename(d) in GUESSED_DIRS[1:] and d not in dirs)
    dirs += [d for d in header_dirs if d not in dirs]
    return dirs, "guessed"


def system_include_dirs(dirs: list[str], source: str) -> list[str]:
    """The directories a `<...>` include searches in the repository: a guessed folder that merely
    holds headers is searched for quoted includes only."""
    if source == "compile_commands":
        return list(dirs)
    return [d for d in dirs if d == "" or posixpath.basename(d) in GUESSED_DIRS[1:]]


def _from_compile_commands(root: Path, path: Path) -> list[str] | None:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entries, list):
        return None
    dirs: list[str] = []
    root_abs = os.path.realpath(root)
    for e in entries:
        if not isinstance(e, dict):
            continue
        args = e.get("arguments")
        if not isinstance(args, list):
            try:
                args = shlex.split(e.get("command", ""))
            except ValueError:
                continue
        cwd = e.get("directory") or str(root)
        i = 0
        while i < len(args):
            a = str(args[i])
            val = None
            for flag in ("-I", "-iquote", "-isystem"):
                if a == flag and i + 1 < len(args):
                    val = str(args[i + 1])
                    i += 1
                elif a.startswith(flag) and len(a) > len(flag):
                    val = a[len(flag):]
            if val is not None:
                full = os.path.realpath(os.path.join(cwd, val))
                if full == root_abs or full.startswith(root_abs + os.sep):
                    rel = os.path.relpath(full, root_abs).replace(os.sep, "/")
                    rel = "" if rel == "." else rel
                    if rel not in dirs:
                        dirs.append(rel)
            i += 1
    return dirs


class IncludeResolver:
    def __init__(self, paths: list[str], dirs: list[str], system_dirs: list[str] | None = None,
                 machine_has=None):
        self.paths = set(paths)
        self.dirs = dirs
        self.system_dirs = dirs if system_dirs is None else system_dirs
        # `<jansson_config.h>`, which only a folder of the repository has: searched in all of them
        self.machine_has = machine_has or (lambda header: False)
        self.by_base: dict[str, list[str]] = {}
        for p in paths:
            self.by_base.setdefault(posixpath.basename(p), []).append(p)

    def resolve(self, including: str, target: str, system: bool) -> str | None:
        cands = [] if system else [posixpath.normpath(posixpath.join(posixpath.dirname(including), target))]
        cands += [posixpath.normpath(posixpath.join(d, target)) for d in (self.system_dirs if system else self.dirs)]
        for c in cands:
            if c in self.paths and c != including:  # adapters/ae.h's `<ae.h>` is not itself
                return c
        if system and self.system_dirs != self.dirs and not self.machine_has(target):
            for d in self.dirs:
                c = posixpath.normpath(posixpath.join(d, target))
                if c in self.paths and c != including:
                    return c
        if not system:
            same = [p for p in self.by_base.get(posixpath.basename(target), ()) if p.endswith("/" + target) or p == target]
            if len(same) == 1:
                return same[0]
            base = self.by_base.get(posixpath.basename(target), [])
            if len(base) == 1:
                return base[0]
        return None
