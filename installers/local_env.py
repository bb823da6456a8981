"""The local backend: commands run on the host, in the repo's folder, with its own venv.

Chosen explicitly by the user (`--backend local`). Where bubblewrap works, each command runs in a
sandbox (installers/isolation.py): its own PID namespace, the host read-only except the workdir,
the venv and a private /tmp. Without it, commands see the whole host, which is why docker is the
default everywhere and model-driven commands need an explicit opt-in here.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path

from installers import isolation, orphans
from installers.environment import DEFAULT_TIMEOUT, VENV_PATH_PREFIX, Environment, ExecResult, clip_output
from r2e.errors import R2EError
from r2e.llm.redact import MASK, MIN_SECRET_LEN, scrub

# Secrets never reach commands run on behalf of a model or a generated test. Matched on the variable's
# name; GIT_AUTHOR_* and PYTHON_KEYRING_BACKEND are ordinary settings that builds rely on.
SECRET_NAME = re.compile(r"API_?KEY|(^|_)KEY($|_)|TOKEN|SECRET|PASSW(OR)?D|CREDENTIAL|AUTH(?!OR)|COOKIE|SESSION")
# Left out of a build's copy of the checkout: environments and caches of whoever used the checkout.
CHECKOUT_IGNORE = frozenset({".venv", "venv", ".tox", ".nox", "__pycache__", ".mypy_cache", ".pytest_cache"})
_HIDDEN_NAMES: set[str] = set()  # more secret variables, by name (a configured key variable)
_RUNNING: set[subprocess.Popen] = set()  # commands in flight, killed by kill_all() on Ctrl-C
_RUNNING_LOCK = threading.Lock()


def kill_all() -> None:
    """Kill the process group of every command this process is running (a batch was interrupted)."""
    with _RUNNING_LOCK:
        procs = list(_RUNNING)
    for proc in procs:
        _kill_group(proc)


def find_python(version: str) -> str | None:
    """An interpreter for X.Y on this host: pythonX.Y on PATH, or a pyenv / uv-managed install."""
    found = shutil.which(f"python{version}")
    if found and "/shims/" not in found:  # pyenv shims answer only for the selected versions
        return found
    home = Path.home()
    patterns = [str(home / ".pyenv" / "versions" / f"{version}.*" / "bin" / f"python{version}"),
                str(home / ".local" / "share" / "uv" / "python" / f"cpython-{version}.*" / "bin" / f"python{version}")]
    for pattern in patterns:
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[-1]
    return None


def hide_variable(name: str) -> None:
    """Treat environment variable `name` as a secret too (e.g. an LLM key under a custom name)."""
    if name:
        _HIDDEN_NAMES.add(name)


def is_secret_name(name: str) -> bool:
    if name in _HIDDEN_NAMES:
        return True
    return name != orphans.RUN_TOKEN_ENV and SECRET_NAME.search(name.upper()) is not None


def scrubbed_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not is_secret_name(k)}


def hidden_values() -> list[str]:
    """The values of this process's secret variables: masked in whatever a command prints."""
    # Short values ("none", "1") would mask ordinary words; real keys are long.
    return [v for k, v in os.environ.items() if is_secret_name(k) and len(v) >= max(MIN_SECRET_LEN, 8)]


class LocalEnvironment(Environment):
    """Commands run in `workdir` with `venv` first on PATH, sandboxed where bubblewrap works.

    `isolate`: None sandboxes when isolation is available, True requires it, False never sandboxes.
    `network=False` cuts a sandboxed command off the network (generated code needs none).
    `run_dir` records running commands so that a killed R2E's leftovers are reaped at the next start.
    """

    def __init__(self, workdir: Path | str, venv: Path | str | None = None, *, isolate: bool | None = None,
                 network: bool = True, run_dir: Path | str | None = None):
        self.workdir = str(Path(workdir).resolve())
        self.venv = str(Path(venv).resolve()) if venv else f"{self.workdir}/.venv"
        if isolate and not isolation.isolation_available():
            raise R2EError("local isolation was required but bubblewrap (bwrap) is missing or does not work here")
        self.isolated = isolation.isolation_available() if isolate is None else isolate
        self.network = network
        self.run_dir = Path(run_dir) if run_dir is not None else orphans.default_run_dir()
        self._tmp: str | None = None  # the sandbox's private /tmp on the host, made on first use
        self._tmp_lock = threading.Lock()
        orphans.reap_orphans(self.run_dir)

    @classmethod
    def from_checkout(cls, repo_path: Path | str, out_dir: Path | str, venv: Path | str | None = None,
                      **kwargs) -> "LocalEnvironment":
        """An environment on a fresh copy of the checkout under `out_dir` (a build's folder).

        Installs and repairs then change the copy only, never the shared checkout other builds use."""
        out = Path(out_dir)
        work = out / "checkout"
        shutil.rmtree(work, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        ignore = lambda _dir, names: {n for n in names if n in CHECKOUT_IGNORE}  # noqa: E731
        shutil.copytree(Path(repo_path), work, symlinks=True, ignore=ignore)
        return cls(work, venv=venv if venv is not None else out / "venv", **kwargs)

    def _env(self, extra: dict[str, str] | None, token: str) -> dict[str, str]:
        env = scrubbed_environ()
        env.pop("PYTHONPATH", None)
        env["VIRTUAL_ENV"] = self.venv
        env["PATH"] = f"{self.venv}/bin:{env.get('PATH', '/usr/bin:/bin')}"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if self.isolated:
            env.update(isolation.package_cache_dirs())
            env["TMPDIR"] = "/tmp"
        env.update(extra or {})
        env[orphans.RUN_TOKEN_ENV] = token
        return env

    def _argv(self, command: str, cwd: str, env: dict[str, str]) -> list[str]:
        if not self.isolated:
            return ["bash", "-lc", VENV_PATH_PREFIX + command]
        for path in (self.workdir, self.venv):
            os.makedirs(path, exist_ok=True)  # a bind needs its folder; `uv venv` accepts an empty one
        writable = [self.workdir, self.venv, *isolation.package_cache_dirs().values()]
        # Not a login shell: profile scripts would try to write to the read-only home (pyenv rehash);
        # the environment is already this process's, as the user's login set it up.
        return isolation.sandbox_argv(["bash", "-c", VENV_PATH_PREFIX + command], cwd=cwd, writable=writable,
                                      private_tmp=self.private_tmp(), network=self.network)

    def execute(self, command: str, cwd: str | None = None, timeout: float | None = None,
                env: dict[str, str] | None = None) -> ExecResult:
        timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        start = time.monotonic()
        token = orphans.new_token()
        cwd = cwd or self.workdir
        record = orphans.track(self.run_dir, token, self.private_tmp() if self.isolated else None)
        try:
            full_env = self._env(env, token)
            proc = subprocess.Popen(
                self._argv(command, cwd, full_env), cwd="/" if self.isolated else cwd, env=full_env,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed whole on timeout
            )
        except OSError as exc:
            orphans.untrack(record)
            return ExecResult(-1, f"could not start: {exc}", False, 0.0)
        orphans.set_group(record, proc.pid)
        with _RUNNING_LOCK:
            _RUNNING.add(proc)
        try:
            out, _ = proc.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, _ = proc.communicate()
            timed_out = True
        except BaseException:
            _kill_group(proc)
            proc.communicate()
            raise
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(proc)
            orphans.untrack(record)
        text = clip_output(scrub(out.decode("utf-8", errors="replace"), hidden_values()))
        code = -1 if timed_out else proc.returncode
        return ExecResult(code, text, timed_out, time.monotonic() - start)

    def private_tmp(self) -> str:
        """The host folder a sandboxed command sees as /tmp (removed with the environment)."""
        with self._tmp_lock:
            if self._tmp is None:
                self._tmp = tempfile.mkdtemp(prefix=orphans.SCRATCH_PREFIX)
                self._tmp_cleanup = weakref.finalize(self, shutil.rmtree, self._tmp, True)
            return self._tmp

    def close(self) -> None:
        with self._tmp_lock:
            if self._tmp is not None:
                self._tmp_cleanup()
                self._tmp = None

    def copy_to(self, src: Path, dest: str, exclude: frozenset[str] | set[str] = frozenset()) -> None:
        _copy(Path(src), Path(self._resolve(dest)), exclude)

    def copy_from(self, src: str, dest: Path) -> None:
        _copy(Path(self._resolve(src)), Path(dest))
        # What a command wrote comes back without R2E's secrets, should it have found them (unsandboxed).
        _scrub_files(Path(dest), hidden_values())

    def _resolve(self, path: str) -> str:
        """The host path of a path as commands see it: a sandbox's /tmp is its private folder."""
        path = path if os.path.isabs(path) else os.path.join(self.workdir, path)
        if not self.isolated or _inside(path, self.workdir) or _inside(path, self.venv):
            return path
        if _inside(path, "/tmp"):
            return os.path.join(self.private_tmp(), os.path.relpath(path, "/tmp"))
        return path


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.normpath(path), os.path.normpath(folder)
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _scrub_files(dest: Path, secrets: list[str], max_bytes: int = 50_000_000) -> None:
    if not secrets:
        return
    needles = [s.encode() for s in sorted(set(secrets), key=len, reverse=True)]
    files = [dest] if dest.is_file() else [p for p in dest.rglob("*") if p.is_file() and not p.is_symlink()]
    for path in files:
        try:
            if path.stat().st_size > max_bytes:
                continue
            data = path.read_bytes()
            if any(n in data for n in needles):
                for n in needles:
                    data = data.replace(n, MASK.encode())
                path.write_bytes(data)
        except OSError:
            continue


def _copy(src: Path, dest: Path, exclude: frozenset[str] | set[str] = frozenset()) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        ignore = (lambda _dir, names: {n for n in names if n in exclude}) if exclude else None
        shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True, ignore=ignore)
    else:
        shutil.copy2(src, dest)
