"""The files of one agent run under OUT/EXP/, and the one rule for resuming it.

`EXP.jsonl` is the record of truth: one Trajectory line per finished instance, appended and flushed to
disk line by line from a single lock, so a kill -9 loses at most the running instances. Resume is keyed
on `instance_id` (instances may share an image). Everything else (preds.jsonl, trajectories*.jsonl,
reward_summary.json) is rebuilt from it and the per-instance folders at the end of each run.
Every text written passes through `scrub` first: the API key never reaches a file.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from r2e.errors import R2EUsageError
from r2e.fsio import atomic_write_text

ERROR_EXITS = ("llm_error", "env_error", "error")


def instance_dir_name(instance_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", instance_id)[:200] or "_"


def is_error(record: dict) -> bool:
    return bool(record.get("error")) or record.get("exit_reason") in ERROR_EXITS


def error_class(record: dict) -> str:
    """llm_error / env_error, else the exception class an error starts with ('GradingError: ...'), else 'error'."""
    reason = str(record.get("exit_reason") or "")
    if reason in ("llm_error", "env_error"):
        return reason
    head = str(record.get("error") or "").split(":", 1)[0].strip()
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", head or "-"):
        return head
    return reason or "error"


class RunFiles:
    def __init__(self, out: Path, exp: str, scrub: Callable[[str], str] = lambda s: s):
        if not exp or "/" in exp or exp in (".", ".."):
            raise R2EUsageError(f"invalid --exp '{exp}': a plain folder name")
        self.dir = Path(out) / exp
        self.exp = exp
        self.scrub = scrub
        self._lock = threading.Lock()

    # -- paths -----------------------------------------------------------------------------------
    @property
    def jsonl(self) -> Path:
        return self.dir / f"{self.exp}.jsonl"

    def instance_dir(self, instance_id: str) -> Path:
        return self.dir / instance_dir_name(instance_id)

    # -- resume ----------------------------------------------------------------------------------
    def load(self) -> list[dict]:
        """The finished records; a torn last line (killed mid-write) is cut off the file."""
        if not self.jsonl.exists():
            return []
        data = self.jsonl.read_bytes()
        records, pos = [], 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            line = data[pos:] if nl == -1 else data[pos:nl]
            try:
                if line.strip():
                    records.append(json.loads(line))
            except json.JSONDecodeError:
                if nl != -1 and data[nl + 1:].strip():
                    raise R2EUsageError(f"{self.jsonl}: line {len(records) + 1} is not valid JSON") from None
                break
            if nl == -1:  # complete JSON without its newline: keep it, finish the line
                pos = len(data)
                with open(self.jsonl, "ab") as fh:
                    fh.write(b"\n")
                return records
            pos = nl + 1
        if pos < len(data):  # a torn last line (killed mid-write): cut it off
            with open(self.jsonl, "r+b") as fh:
                fh.truncate(pos)
        return records

    def drop(self, instance_ids: set[str]) -> None:
        """Rewrite EXP.jsonl without these instances' lines (before --redo-errors runs them again)."""
        kept = [r for r in self.load() if r.get("instance_id") not in instance_ids]
        atomic_write_text(self.jsonl, "".join(json.dumps(r) + "\n" for r in kept))

    # -- writing ---------------------------------------------------------------------------------
    def write_text(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, self.scrub(text), durable=False)

    def write_json(self, path: Path, obj: Any) -> None:
        self.write_text(path, json.dumps(obj, indent=2, default=str) + "\n")

    def append(self, record: dict) -> None:
        """One line, written whole, flushed and synced before the next one starts."""
        line = self.scrub(json.dumps(record, default=str)) + "\n"
        with self._lock:
            self.dir.mkdir(parents=True, exist_ok=True)
            with open(self.jsonl, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())

    def logger(self, instance_id: str) -> Callable[[str], None]:
        path = self.instance_dir(instance_id) / "agent.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = threading.Lock()

        def log(line: str) -> None:
            stamp = time.strftime("%H:%M:%S", time.localtime()) + f".{int(time.time() * 1000) % 1000:03d}"
            with lock, open(path, "a", encoding="utf-8") as fh:
                fh.write(f"{stamp} {self.scrub(line.rstrip(chr(10)))}\n")
        return log

    # -- derived files ---------------------------------------------------------------------------
    def rebuild(self, model_name: str, summary: dict) -> None:
        """preds.jsonl, trajectories.jsonl, trajectories_rejection_sampling.jsonl, reward_summary.json."""
        records = self.load()
        preds = [{"instance_id": r.get("instance_id"), "model_name_or_path": model_name,
                  "model_patch": r.get("output_patch") or ""} for r in records]
        self.write_text(self.dir / "preds.jsonl", _lines(preds))
        histories, accepted = [], []
        for r in records:
            path = self.instance_dir(str(r.get("instance_id"))) / "history.json"
            if not path.exists():
                continue
            history = json.loads(path.read_text(encoding="utf-8"))
            histories.append(history)
            if r.get("reward") == 1.0:
                accepted.append(history)
        self.write_text(self.dir / "trajectories.jsonl", _lines(histories))
        self.write_text(self.dir / "trajectories_rejection_sampling.jsonl", _lines(accepted))
        self.write_json(self.dir / "reward_summary.json", summary)


def _lines(items: Iterable[Any]) -> str:
    return "".join(json.dumps(i, default=str) + "\n" for i in items)
