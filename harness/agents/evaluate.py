"""`r2e agent eval`: grade existing predictions, or check a dataset with its gold and empty patches.

A dataset is sound when, on every instance, the gold patch scores 1 and the empty patch 0, run after
run (three in a row by default): anything else is a broken or flaky instance, listed by id.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.agents.dataset import AgentInstance
from harness.agents.envs import EnvFactory
from harness.agents.grading import Grade, grade
from harness.agents.outputs import RunFiles
from r2e.errors import R2EUsageError


def read_preds(path: Path) -> dict[str, str]:
    """instance_id -> model_patch from SWE-bench's preds.jsonl (or a JSON list / {id: {...}} dict)."""
    path = Path(path)
    if not path.exists():
        raise R2EUsageError(f"predictions not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith(("[", "{")) and path.suffix == ".json":
            data = json.loads(text)
            rows = list(data.values()) if isinstance(data, dict) else data
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise R2EUsageError(f"{path}: not valid JSON/JSONL ({exc.msg}, line {exc.lineno})") from None
    preds = {}
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict) or "instance_id" not in row:
            raise R2EUsageError(f"{path}: row {number} has no instance_id")
        patch = row.get("model_patch", row.get("output_patch")) or ""
        if not isinstance(patch, str):
            raise R2EUsageError(f"{path}: row {number}: model_patch must be a string")
        preds[str(row["instance_id"])] = patch
    return preds


@dataclass(frozen=True)
class Check:
    instance_id: str
    gold: tuple[float, ...]  # rewards of the gold patch, run after run
    empty: tuple[float, ...]
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.reasons


def evaluate(instances: list[AgentInstance], preds: dict[str, str], envs: EnvFactory, files: RunFiles,
             workers: int = 1, timeout: float | None = None, say: Callable[[str], None] = print) -> list[Grade]:
    wanted = [i for i in instances if i.instance_id in preds]
    missing = sorted(set(preds) - {i.instance_id for i in instances})
    if missing:
        say(f"{len(missing)} prediction(s) name no instance of the dataset: {', '.join(missing[:5])}")

    def one(inst: AgentInstance) -> Grade:
        g = _safe_grade(inst, preds[inst.instance_id], envs, timeout=timeout)
        folder = files.instance_dir(inst.instance_id)
        files.write_text(folder / "test_output.log", g.log)
        files.write_json(folder / "report.json", g.report())
        say(f"{inst.instance_id}: reward {g.reward} ({g.reason})")
        return g
    grades = _map(one, wanted, workers, envs)
    report = {"total": len(wanted), "resolved": sum(g.resolved for g in grades),
              "resolved_ids": sorted(g.instance_id for g in grades if g.resolved),
              "unresolved_ids": sorted(g.instance_id for g in grades if not g.resolved),
              "reasons": {g.instance_id: g.reason for g in grades}}
    files.write_json(files.dir / "eval_summary.json", report)
    return grades


def check_dataset(instances: list[AgentInstance], envs: EnvFactory, *, gold: bool = True, empty: bool = True,
                  runs: int = 3, workers: int = 1, timeout: float | None = None,
                  say: Callable[[str], None] = print) -> list[Check]:
    def series(job: tuple[AgentInstance, str]) -> tuple[list[float], list[str]]:
        """One instance's gold (or empty) runs in a row; the first wrong score settles it."""
        inst, mode = job
        rewards: list[float] = []
        if mode == "gold" and not inst.patch and not inst.gold_is_unapplied_setup:
            return rewards, ["no gold patch"]
        for _ in range(runs):
            if mode == "gold":
                g = _safe_grade(inst, inst.patch, envs, timeout=timeout, apply_setup=not inst.gold_is_unapplied_setup)
            else:
                g = _safe_grade(inst, "", envs, timeout=timeout)
            rewards.append(g.reward)
            if g.reward != (1.0 if mode == "gold" else 0.0):
                return rewards, [f"gold: {g.reason}" if mode == "gold" else "empty: resolved"]
        return rewards, []

    modes = [m for m, on in (("gold", gold), ("empty", empty)) if on]
    jobs = [(inst, mode) for inst in instances for mode in modes]
    results = dict(zip([(i.instance_id, m) for i, m in jobs], _map(series, jobs, workers, envs)))
    checks = []
    for inst in instances:
        g_rewards, g_reasons = results.get((inst.instance_id, "gold"), ([], []))
        e_rewards, e_reasons = results.get((inst.instance_id, "empty"), ([], []))
        check = Check(inst.instance_id, tuple(g_rewards), tuple(e_rewards), tuple(g_reasons + e_reasons))
        say(f"{inst.instance_id}: {'ok' if check.ok else 'FAIL ' + '; '.join(check.reasons)}")
        checks.append(check)
    return checks


def _safe_grade(inst: AgentInstance, patch: str, envs: EnvFactory, **kw) -> Grade:
    try:
        return grade(inst, patch, envs, **kw)
    except Exception as exc:  # an environment that will not start is this instance's failure
        return Grade(instance_id=inst.instance_id, reward=0.0, resolved=False, reason="error",
                     log=f"{type(exc).__name__}: {exc}")


def _map(fn, items, workers: int, envs: EnvFactory | None = None):
    """fn over items with `workers` threads; Ctrl-C removes the run's containers before waiting for them."""
    ex = cf.ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        results = list(ex.map(fn, items))
    except KeyboardInterrupt:
        if envs is not None:
            envs.stopping.set()
            envs.remove_all()  # running gradings fail fast instead of finishing their suites
        ex.shutdown(wait=True, cancel_futures=True)
        if envs is not None:
            envs.remove_all()
        raise
    ex.shutdown(wait=True)
    return results
