"""Isolation for the local backend: run each command in a bubblewrap sandbox.

Inside, the command sees its own PID namespace (not R2E's process, whose environment holds the API
key, nor any other host process), the host read-only, and writable only: the repo's workdir, its
venv, a private /tmp and R2E's own package caches. Secrets are dropped from its environment.

Where bubblewrap is missing or fails its self-test, `isolation_available()` is False; then
LLM-driven commands on the local backend are refused unless the user opts in
(`require_isolation_for_llm`).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from r2e.errors import R2EError

# Set to "off" to run local commands without the sandbox (they then see the whole host).
ISOLATION_ENV = "R2E_LOCAL_ISOLATION"
ALLOW_FLAG = "--allow-unisolated-local"
# Credential stores under $HOME that sandboxed commands must not read (hidden behind empty mounts).
HIDDEN_HOME_PATHS = (".ssh", ".aws", ".azure", ".gnupg", ".docker", ".kube", ".netrc", ".git-credentials",
                     ".pypirc", ".npmrc", ".config/gcloud", ".config/gh", ".config/hub", ".cargo/credentials",
                     ".cargo/credentials.toml", ".password-store")


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def isolation_disabled() -> bool:
    return os.environ.get(ISOLATION_ENV, "").strip().lower() in ("off", "0", "no", "none", "false")


def isolation_available() -> bool:
    """True when local commands can run sandboxed here (bubblewrap present and passing its self-test)."""
    return not isolation_disabled() and _bwrap_mode() is not None


@functools.lru_cache(maxsize=1)
def _bwrap_mode() -> tuple[str, ...] | None:
    """The extra bwrap options that make the self-test pass here, or None when nothing does.

    As root a PID namespace needs nothing more; unprivileged users may need a user namespace too."""
    if bwrap_path() is None:
        return None
    for extra in ((), ("--unshare-user",)):
        if _self_test(extra):
            return extra
    return None


def _self_test(extra: tuple[str, ...]) -> bool:
    # A private PID namespace (the shell is one of the first PIDs), a read-only host, a writable workdir.
    with tempfile.TemporaryDirectory(prefix="r2e-bwrap-test-") as tmp:
        work, private = Path(tmp, "work"), Path(tmp, "tmp")
        work.mkdir()
        private.mkdir()
        probe = 'test "$$" -lt 10 && ! touch /usr/.r2e-probe 2>/dev/null && touch "$1/ok"'
        argv = sandbox_argv(["/bin/sh", "-c", probe, "sh", str(work)], cwd=str(work), writable=[str(work)],
                            private_tmp=str(private), extra=extra)
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return False
        return proc.returncode == 0 and (work / "ok").exists()


def sandbox_argv(argv: list[str], *, cwd: str, writable: list[str], private_tmp: str, network: bool = True,
                 extra: tuple[str, ...] | None = None) -> list[str]:
    """The bwrap command line that runs `argv` sandboxed; every path in `writable` must exist."""
    extra = (_bwrap_mode() or ()) if extra is None else extra
    args = [bwrap_path() or "bwrap", *extra, "--unshare-pid", "--die-with-parent",
            "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--bind", private_tmp, "/tmp"]
    if not network:
        args.append("--unshare-net")
    home = Path.home()
    for rel in HIDDEN_HOME_PATHS:
        hidden = home / rel
        if hidden.is_symlink() or not hidden.exists():
            continue
        args += ["--tmpfs", str(hidden)] if hidden.is_dir() else ["--ro-bind", "/dev/null", str(hidden)]
    # Later mounts win: the writable folders go over the read-only host and the private /tmp.
    for path in sorted(set(writable), key=len):
        args += ["--bind", path, path]
    return [*args, "--chdir", cwd, "--", *argv]


def package_cache_dirs() -> dict[str, str]:
    """R2E's own uv and pip caches for sandboxed commands (created here), as environment variables.

    Not the user's caches: a hostile build could plant a wheel there for the user's own installs."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "r2e"
    caches = {"UV_CACHE_DIR": base / "local-uv", "PIP_CACHE_DIR": base / "local-pip"}
    for path in caches.values():
        path.mkdir(parents=True, exist_ok=True)
    return {name: str(path.resolve()) for name, path in caches.items()}


def require_isolation_for_llm(backend: str, allow_unisolated: bool) -> None:
    """Refuse model-driven commands on an unsandboxed local backend unless the user opted in."""
    if backend != "local" or allow_unisolated or isolation_available():
        return
    why = f"{ISOLATION_ENV}=off" if isolation_disabled() else "bubblewrap (bwrap) is missing or does not work here"
    raise R2EError(f"model-driven commands on --backend local need a sandbox ({why}) so they cannot read "
                   f"the API key: install bubblewrap, use --backend docker, or pass {ALLOW_FLAG}")
