"""`Installer`: runs and records the commands of one build in its environment, within the deadline.

Every command is logged to install.log; the steps that succeeded become the install script of
record. Ctrl-C sets `CANCELLED`: the next command raises `BuildCancelled` and the build records
nothing, so the next run builds it again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from installers.environment import Environment, ExecResult
from installers.plan import InstallPlan
from r2e.fsio import atomic_write_text
from r2e.llm.redact import scrub

INSTALL_TIMEOUT = 900
WHEELHOUSE_PATH = "/wheelhouse"  # docker: where host-fetched wheels are copied for --no-index installs
CANCELLED = threading.Event()  # set on Ctrl-C: running builds stop and record nothing (so they resume)
SCRIPT_KINDS = {"venv", "install", "editable", "pth", "optional", "build"}  # not tests, oracle runs or trials


class BuildCancelled(Exception):
    pass


@dataclass(frozen=True)
class Step:
    kind: str  # venv | install | editable | pth | optional | build | test | repair | llm
    command: str
    exit_code: int
    duration: float
    timed_out: bool = False

    def to_dict(self) -> dict:
        return {"kind": self.kind, "command": self.command, "exit_code": self.exit_code,
                "duration": round(self.duration, 2), "timed_out": self.timed_out}


def pip_command(env: Environment, wheelhouse: bool = False) -> str:
    offline = f" --no-index --find-links {WHEELHOUSE_PATH}" if wheelhouse else ""
    return f"uv pip install --python {env.python}{offline}"


class Installer:
    """Runs and records commands in one environment, within the task's deadline."""

    def __init__(self, env: Environment, log_path: Path, deadline: float, keep_log: bool = False,
                 secrets: tuple[str, ...] = ()):
        self.secrets = secrets  # the model's key and URL credentials: never in install.log
        self.env, self.log_path, self.deadline = env, log_path, deadline
        self.steps: list[Step] = []
        self._log: list[str] = [log_path.read_text(encoding="utf-8")] if keep_log and log_path.exists() else []
        self.pip = pip_command(env)
        self.prefetch: Callable[[list[str]], None] | None = None  # wheelhouse mode: fetch dists on the host

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, kind: str, command: str, timeout: float = INSTALL_TIMEOUT, cwd: str | None = None) -> ExecResult:
        if CANCELLED.is_set():
            raise BuildCancelled()
        timeout = max(1.0, min(timeout, self.remaining()))
        res = self.env.execute(command, cwd=cwd, timeout=timeout)
        if CANCELLED.is_set():
            raise BuildCancelled()
        self.steps.append(Step(kind, command, res.exit_code, res.duration, res.timed_out))
        self.log(f"$ {command}\n[exit {res.exit_code}{' TIMEOUT' if res.timed_out else ''}, {res.duration:.1f}s]\n{res.output}")
        return res

    def log(self, text: str) -> None:
        self._log.append(scrub(text, self.secrets).rstrip() + "\n")
        atomic_write_text(self.log_path, "".join(self._log))

    def script(self, plan: InstallPlan) -> list[str]:
        """The install script of record: install steps that succeeded, then the repairs that helped."""
        base = [s.command for s in self.steps if s.exit_code == 0 and s.kind in SCRIPT_KINDS]
        return base + [c for c in plan.extra_steps if c not in base]

    def step_dicts(self) -> tuple[dict, ...]:
        return tuple(s.to_dict() for s in self.steps)
