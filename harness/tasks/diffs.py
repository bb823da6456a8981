"""Git-style unified diffs of one file, and a check that git applies them.

`git apply` is the consumer (SWE-bench, SWE-smith and R2E-Gym harnesses all apply patches with it),
so every diff made here is checked with `git apply --check` on a scratch copy before it is kept.
"""

from __future__ import annotations

import difflib
import subprocess
import tempfile
from pathlib import Path

NO_NEWLINE = "\\ No newline at end of file\n"


def unified_diff(path: str, old: str, new: str, context: int = 3) -> str:
    """`diff --git a/path b/path` followed by a unified diff of old -> new ("" when they are equal)."""
    if old == new:
        return ""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"a/{path}", tofile=f"b/{path}", n=context)
    out = [f"diff --git a/{path} b/{path}\n"]
    for line in lines:
        if line.startswith(("---", "+++")):
            out.append(line.rstrip("\n") + "\n")
        elif line.endswith("\n"):
            out.append(line)
        else:  # the file's last line has no newline: say so, as git does
            out.append(line + "\n" + NO_NEWLINE)
    return "".join(out)


def changed_lines(diff: str) -> list[str]:
    """The text of the removed and added lines of a diff (without their -/+ marks)."""
    return [line[1:] for line in diff.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def git_apply_check(path: str, before: str, diff: str) -> str | None:
    """None when `git apply` takes `diff` onto a tree where `path` holds `before`; else git's complaint."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(before, encoding="utf-8")
        patch = Path(tmp) / ".r2e.patch"
        patch.write_text(diff, encoding="utf-8")
        res = subprocess.run(["git", "apply", "--check", "--whitespace=nowarn", patch.name], cwd=tmp,
                             capture_output=True, text=True)
        return None if res.returncode == 0 else (res.stderr.strip() or f"git apply exit {res.returncode}")
