"""The local backend: commands run on the host, in the repo's folder, with its own venv.

Chosen explicitly by the user (`--backend local`); model-suggested commands and generated tests
then run on the host, which is why docker is the default everywhere.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from installers.environment import DEFAULT_TIMEOUT, VENV_PATH_PREFIX, Environment, ExecResult, clip_output

# Secrets never reach commands run on behalf of a model or a generated test.
SECRET_MARKERS = ("API_KEY", "TOKEN", "SECRET", "PASSWORD")
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


def scrubbed_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not any(m in k.upper() for m in SECRET_MARKERS)}


class LocalEnvironment(Environment):
    def __init__(self, workdir: Path | str, venv: Path | str | None = None):
        self.workdir = str(Path(workdir).resolve())
        self.venv = str(Path(venv).resolve()) if venv else f"{self.workdir}/.venv"

    def _env(self, extra: dict[str, str] | None) -> dict[str, str]:
        env = scrubbed_environ()
        env.pop("PYTHONPATH", None)
        env["VIRTUAL_ENV"] = self.venv
        env["PATH"] = f"{self.venv}/bin:{env.get('PATH', '/usr/bin:/bin')}"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(extra or {})
        return env

    def execute(self, command: str, cwd: str | None = None, timeout: float | None = None,
                env: dict[str, str] | None = None) -> ExecResult:
        timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                ["bash", "-lc", VENV_PATH_PREFIX + command], cwd=cwd or self.workdir, env=self._env(env),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed whole on timeout
            )
        except OSError as exc:
            return ExecResult(-1, f"could not start: {exc}", False, 0.0)
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
        text = clip_output(out.decode("utf-8", errors="replace"))
        code = -1 if timed_out else proc.returncode
        return ExecResult(code, text, timed_out, time.monotonic() - start)

    def copy_to(self, src: Path, dest: str, exclude: frozenset[str] | set[str] = frozenset()) -> None:
        _copy(Path(src), Path(self._resolve(dest)), exclude)

    def copy_from(self, src: str, dest: Path) -> None:
        _copy(Path(self._resolve(src)), Path(dest))

    def _resolve(self, path: str) -> str:
        return path if os.path.isabs(path) else os.path.join(self.workdir, path)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _copy(src: Path, dest: Path, exclude: frozenset[str] | set[str] = frozenset()) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        ignore = (lambda _dir, names: {n for n in names if n in exclude}) if exclude else None
        shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True, ignore=ignore)
    else:
        shutil.copy2(src, dest)
