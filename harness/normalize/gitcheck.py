"""Git on the host over an exported /testbed: the image needs no git, and the checks read the same tree."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

# Exported trees are owned by whoever ran the container: git must not refuse them as "dubious ownership".
_GIT = ["git", "-c", "safe.directory=*", "-c", "core.fileMode=true", "-c", "advice.detachedHead=false",
        "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false"]


def git(tree: Path, *args: str, stdin: str | None = None, check: bool = True) -> str:
    proc = subprocess.run([*_GIT, *args], cwd=tree, input=stdin, capture_output=True, text=True,
                          env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1",
                               "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CEILING_DIRECTORIES": str(tree.parent)})
    if check and proc.returncode != 0:
        raise GitError((proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"git {args[0]} failed"])
    return proc.stdout


class GitError(Exception):
    def __init__(self, lines):
        super().__init__(lines[0] if lines else "git failed")


def is_repo(tree: Path) -> bool:
    """A real .git folder (a `gitdir:` file or a symlink would send host git somewhere else)."""
    dot = tree / ".git"
    return dot.is_dir() and not dot.is_symlink()


def defuse(tree: Path) -> None:
    """Make an exported repository safe for git on the host: its config could name commands git runs
    (core.fsmonitor, filter drivers, hooks) or point outside (core.worktree, alternates). Only what
    reading objects needs is kept."""
    dot = tree / ".git"
    if not is_repo(tree):
        return
    config = dot / "config"
    keep = {"core.repositoryformatversion": "0", "extensions.objectformat": None}
    if config.is_file() and not config.is_symlink():
        for key in list(keep):
            proc = subprocess.run(["git", "config", "-f", str(config), "--get", key], capture_output=True, text=True,
                                  env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull})
            if proc.returncode == 0 and proc.stdout.strip():
                keep[key] = proc.stdout.strip()
    lines = ["[core]", f"\trepositoryformatversion = {keep['core.repositoryformatversion']}", "\tbare = false"]
    if keep["extensions.objectformat"]:
        lines += ["[extensions]", f"\tobjectformat = {keep['extensions.objectformat']}"]
    for name in ("config", "config.worktree", "objects/info/alternates", "commondir"):
        target = dot / name
        if target.is_symlink() or target.exists():
            target.unlink()
    config.write_text("\n".join(lines) + "\n")
    hooks = dot / "hooks"
    if hooks.is_symlink():
        hooks.unlink()


def head(tree: Path) -> str | None:
    try:
        return git(tree, "rev-parse", "HEAD").strip()
    except GitError:
        return None


def has_commit(tree: Path, commit: str) -> bool:
    try:
        git(tree, "cat-file", "-e", f"{commit}^{{commit}}")
        return True
    except GitError:
        return False


def status(tree: Path) -> list[str]:
    """`git status --porcelain` lines; the index is refreshed first (an export changes every file's stat)."""
    git(tree, "update-index", "-q", "--really-refresh", check=False)
    return [line for line in git(tree, "status", "--porcelain").splitlines() if line.strip()]


def status_paths(lines: list[str]) -> list[str]:
    return [line[3:].split(" -> ")[-1].strip('"') for line in lines]


def venvs(tree: Path, depth: int = 2) -> list[str]:
    """Virtual environments inside the tree (a pyvenv.cfg), as paths relative to it."""
    found = []
    for dirpath, dirnames, filenames in os.walk(tree):
        rel = os.path.relpath(dirpath, tree)
        level = 0 if rel == "." else rel.count(os.sep) + 1
        if ".git" in dirnames:
            dirnames.remove(".git")
        if "pyvenv.cfg" in filenames and rel != ".":
            found.append(rel)
            dirnames.clear()
        elif level >= depth:
            dirnames.clear()
    return sorted(found)


def patched_files(tree: Path, patches: list[str], prefix: str = "testbed") -> tuple[bytes, tuple[str, ...]]:
    """Apply `patches` to the tree and return (a tar of the changed files under `prefix`/, deleted paths);
    the tree is put back as it was. Raises GitError when a patch does not apply."""
    changed: list[str] = []
    try:
        for text in patches:
            if text.strip():
                git(tree, "apply", "--whitespace=nowarn", "-", stdin=text if text.endswith("\n") else text + "\n")
        changed = sorted(set(git(tree, "diff", "--name-only").splitlines())
                         | set(git(tree, "ls-files", "--others", "--exclude-standard").splitlines()))
        buf = io.BytesIO()
        deleted = []
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for rel in changed:
                path = tree / rel
                if path.exists() or path.is_symlink():
                    tar.add(path, arcname=f"{prefix}/{rel}", recursive=False)
                else:
                    deleted.append(f"/{prefix}/{rel}")
        return buf.getvalue(), tuple(deleted)
    finally:
        git(tree, "checkout", "--quiet", "--", ".", check=False)
        for rel in changed:
            if not git(tree, "ls-files", "--", rel).strip():
                try:
                    (tree / rel).unlink()
                except OSError:
                    pass
