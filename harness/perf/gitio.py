"""Real git on a repository checkout, through subprocess: history, diffs, file contents at a commit."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from r2e.errors import R2EError

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def git(repo: str | Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, errors="replace")
    if check and proc.returncode != 0:
        raise R2EError(f"git {' '.join(args[:2])} in {repo}: {proc.stderr.strip()[:300]}")
    return proc.stdout


def commits(repo: str | Path, rev: str = "HEAD", max_count: int = 2000) -> list[dict]:
    """Non-merge commits with a parent, newest first: sha, parent, date, subject, body."""
    out = git(repo, "log", f"--max-count={max_count}", "--no-merges", "--format=%H%x00%P%x00%cI%x00%s%x00%b%x1e", rev)
    found = []
    for entry in out.split("\x1e"):
        parts = entry.strip("\n").split("\x00")
        if len(parts) < 5 or not parts[1].strip():
            continue  # the root commit has no parent to measure against
        found.append({"sha": parts[0], "parent": parts[1].split()[0], "date": parts[2],
                      "subject": parts[3], "body": parts[4]})
    return found


def changed_lines(repo: str | Path, parent: str, commit: str) -> dict[str, tuple[set[int], set[int]]]:
    """Python file -> (lines removed or changed at the parent, lines added or changed at the commit)."""
    out = git(repo, "diff", "--no-color", "--no-ext-diff", "-U0", "--no-renames", parent, commit, "--", "*.py")
    files: dict[str, tuple[set[int], set[int]]] = {}
    old_path = new_path = None
    for line in out.splitlines():
        if line.startswith("--- "):
            old_path = None if line[4:] == "/dev/null" else line[6:]
        elif line.startswith("+++ "):
            new_path = None if line[4:] == "/dev/null" else line[6:]
        else:
            match = _HUNK.match(line)
            if not match:
                continue
            a, b = int(match.group(1)), int(match.group(3))
            an, bn = int(match.group(2) or 1), int(match.group(4) or 1)
            path = new_path or old_path
            if path is None:
                continue
            old, new = files.setdefault(path, (set(), set()))
            old.update(range(a, a + an) if an else {a})  # a pure insertion touches the line it follows
            new.update(range(b, b + bn) if bn else {b})
    return files


def show(repo: str | Path, commit: str, path: str) -> str | None:
    proc = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True)
    return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else None
