"""Reap commands left running by an R2E process that was killed (kill -9 leaves its pytest behind).

Every local command carries a run token in its environment and is recorded in a run folder while it
runs: the token, its process group and the R2E process that owns it. At the next start, records
whose owner is gone are reaped: every process still carrying the token is killed, so a child that
left the process group is found as well. Records of live owners (a parallel run) are left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import uuid
from pathlib import Path

from r2e.workspace import default_home

RUN_TOKEN_ENV = "R2E_RUN_TOKEN"
SCRATCH_PREFIX = "r2e-local-tmp-"  # the only folders reaping removes


def default_run_dir() -> Path:
    return default_home() / "run" / "local"


def start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (tells a live owner from a reused PID), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def new_token() -> str:
    return uuid.uuid4().hex


def track(run_dir: Path, token: str, scratch: str | None = None) -> Path | None:
    """Record a command about to start (before it starts: a kill in between still leaves a trace).

    `scratch` is a temporary folder of the command's environment, removed once its owner is gone."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / f"{os.getpid()}-{token}.json"
        _write(path, {"token": token, "owner": os.getpid(), "owner_start": start_time(os.getpid()), "pgid": None,
                      "scratch": scratch})
        return path
    except OSError:  # an unwritable run folder costs the reaping, never the command
        return None


def set_group(record: Path | None, pgid: int) -> None:
    if record is None:
        return
    try:
        data = json.loads(record.read_text())
        _write(record, {**data, "pgid": pgid})
    except (OSError, ValueError):
        pass


def untrack(record: Path | None) -> None:
    if record is not None:
        record.unlink(missing_ok=True)


def reap_orphans(run_dir: Path | str | None = None) -> int:
    """Kill what dead R2E processes left running; return how many processes were killed."""
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir()
    try:
        records = sorted(run_dir.glob("*.json"))
    except OSError:
        return 0
    orphaned: list[tuple[Path, dict]] = []
    for path in records:
        try:
            data = json.loads(path.read_text())
            owner, token = int(data["owner"]), str(data["token"])
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # unreadable: nothing can be matched against it
            continue
        alive = start_time(owner)
        if alive is not None and alive == data.get("owner_start"):
            continue
        orphaned.append((path, {**data, "token": token}))
    if not orphaned:
        return 0
    killed = 0
    tokens = {f"{RUN_TOKEN_ENV}={d['token']}".encode() for _, d in orphaned}
    for pid in _pids_carrying(tokens):
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except (ProcessLookupError, PermissionError):
            pass
    for path, data in orphaned:
        scratch = data.get("scratch")
        if isinstance(scratch, str) and Path(scratch).name.startswith(SCRATCH_PREFIX):
            shutil.rmtree(scratch, ignore_errors=True)
        path.unlink(missing_ok=True)
    return killed


def _pids_carrying(tokens: set[bytes]) -> list[int]:
    me = os.getpid()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = Path(entry.path, "environ").read_bytes()
        except OSError:
            continue
        if any(var in tokens for var in environ.split(b"\0")):
            found.append(int(entry.name))
    return found


def _write(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
