"""Git operations through argument lists (never a shell), with bounded time."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

DEFAULT_CLONE_TIMEOUT = 900
# Deterministic identity and dates: the same folder content always gets the same commit SHA.
_FIXED_DATE = "2000-01-01T00:00:00+0000"


class GitError(RuntimeError):
    pass


_live: set[subprocess.Popen] = set()
_live_lock = threading.Lock()


def kill_running() -> None:
    """Kill every git process still running (Ctrl-C: worker threads must not wait for clones)."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GIT_TERMINAL_PROMPT="0",  # never wait for a password
        GIT_ASKPASS="true",
        GIT_SSH_COMMAND="ssh -o BatchMode=yes -o ConnectTimeout=20 -o StrictHostKeyChecking=accept-new",
        GIT_CONFIG_NOSYSTEM="1",
        LC_ALL="C",
    )
    return env


def git(args: list[str], cwd: Path | None = None, timeout: float | None = 120, env: dict | None = None) -> str:
    """Run git; return stdout. Raises GitError with git's last error line on failure or timeout."""
    cmd = [
        "git",
        "-c", "http.lowSpeedLimit=1000",  # abort transfers slower than 1 kB/s ...
        "-c", "http.lowSpeedTime=60",  # ... for a minute
        "-c", "core.hooksPath=/dev/null",
        "-c", "protocol.file.allow=always",
        *args,
    ]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env={**_env(), **(env or {})}, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
        start_new_session=True,
    )
    with _live_lock:
        _live.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise GitError(f"timed out after {timeout:g}s") from None
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    finally:
        with _live_lock:
            _live.discard(proc)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
        fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
        raise GitError((fatal or lines or [f"git exited with {proc.returncode}"])[-1])
    return out


def head_commit(repo: Path) -> str:
    return git(["rev-parse", "HEAD"], cwd=repo).strip()


def is_git_root(path: Path) -> bool:
    return (path / ".git").exists()


def clone(url: str, dest: Path, *, ref: str | None, depth: int | None, timeout: float) -> None:
    """Clone `url` into `dest` and check out `ref` (branch, tag or SHA) when given."""
    args = ["clone", "--quiet"]
    if depth:
        args += ["--depth", str(depth)]
    git([*args, "--", url, str(dest)], timeout=timeout)
    if ref:
        checkout(dest, ref, depth=depth, timeout=timeout)


def checkout(repo: Path, ref: str, *, depth: int | None, timeout: float) -> None:
    try:
        git(["checkout", "--quiet", "--detach", ref, "--"], cwd=repo)
        return
    except GitError:
        pass
    # Not in the (possibly shallow) clone yet: fetch exactly that ref.
    fetch = ["fetch", "--quiet"] + (["--depth", str(depth)] if depth else []) + ["origin", ref]
    try:
        git(fetch, cwd=repo, timeout=timeout)
        git(["checkout", "--quiet", "--detach", "FETCH_HEAD"], cwd=repo)
    except GitError:
        raise GitError(f"ref '{ref}' not found") from None


def init_and_commit(repo: Path) -> None:
    """Make a plain folder a git repo with one deterministic commit of everything in it."""
    ident = {
        "GIT_AUTHOR_NAME": "r2e", "GIT_AUTHOR_EMAIL": "r2e@localhost",
        "GIT_COMMITTER_NAME": "r2e", "GIT_COMMITTER_EMAIL": "r2e@localhost",
        "GIT_AUTHOR_DATE": _FIXED_DATE, "GIT_COMMITTER_DATE": _FIXED_DATE,
    }
    git(["init", "--quiet", "--initial-branch=main"], cwd=repo)
    git(["add", "--all", "."], cwd=repo, timeout=600)
    git(["commit", "--quiet", "--allow-empty", "--no-verify", "--no-gpg-sign", "-m", "r2e: snapshot of local folder"],
        cwd=repo, env=ident, timeout=600)


def ls_remote_ok(url: str, timeout: float) -> None:
    git(["ls-remote", "--heads", "--", url], timeout=timeout)
