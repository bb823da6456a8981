"""A batch: instances in parallel workers, results kept per instance (resumable), and the three outputs
with the seed tool's names: summary.json, <stem>_transferred.json, <stem>_failed.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.normalize import engine
from harness.normalize.instances import load_instances
from harness.normalize.pipeline import Counter, Normalizer, Settings, instance_dir
from harness.normalize.records import BadRow, Instance
from r2e.errors import R2EError
from r2e.fsio import atomic_write_json, read_json
from r2e.pool import run_pool


@dataclass(frozen=True)
class BatchResult:
    summary: dict
    transferred_path: Path
    failed_path: Path


def run_normalize(input_path: Path, settings: Settings, *, workers: int = 2, skip_existing: bool = False,
                  log: Callable[[str], None] = print) -> BatchResult:
    items = load_instances(input_path)
    settings.output.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    todo: list[Instance] = []
    for item in items:
        if isinstance(item, BadRow):
            log(f"skipped row {item.index}: {item.reason}")
            results[f"#{item.index}"] = {"instance_id": item.instance_id, "status": "failed",
                                         "reason": "invalid_instance", "detail": item.reason,
                                         "entry": {**item.raw, "instance_id": item.instance_id,
                                                   "failure_reason": "invalid_instance",
                                                   "failure_detail": item.reason}}
            continue
        previous = instance_dir(settings.output, item.instance_id) / "result.json"
        if skip_existing and previous.exists():
            done = read_json(previous, default=None)
            if isinstance(done, dict) and done.get("status") in ("transferred", "failed"):
                results[item.instance_id] = done
                continue
        todo.append(item)
    skipped = sum(1 for i in items if isinstance(i, Instance)) - len(todo)
    counter = Counter()
    if todo:
        series = settings.runs * (settings.eval_timeout + engine.KILL_GRACE) + 120
        try:
            dclient = engine.client(max(600.0, series))
            dclient.ping()
        except Exception as exc:
            raise R2EError(f"no Docker engine reachable ({type(exc).__name__}): r2e normalize builds images "
                           "locally") from None
        probe = engine.ImageProbe(dclient)

        def one(inst: Instance) -> dict:
            return Normalizer(inst, settings, probe, counter).run()

        def done(inst, result, error) -> None:
            if error is not None:
                log(f"{inst.instance_id}: internal_error: {type(error).__name__}: {error}")
            else:
                extra = f" ({result['reason']}: {result['detail']})" if result["status"] == "failed" else ""
                log(f"{inst.instance_id}: {result['status']}{extra}")

        ok, failures = run_pool(one, todo, workers=max(1, workers), on_done=done)
        for inst, result in ok:
            results[inst.instance_id] = result
        for failure in failures:
            inst = failure.item
            detail = failure.message.splitlines()[0][:300]
            results[inst.instance_id] = {"instance_id": inst.instance_id, "status": "failed",
                                         "reason": "internal_error", "detail": detail,
                                         "entry": {**inst.raw, "failure_reason": "internal_error",
                                                   "failure_detail": detail}}
    order = [f"#{i.index}" if isinstance(i, BadRow) else i.instance_id for i in items]
    ordered = [results[iid] for iid in dict.fromkeys(order) if iid in results]
    transferred = [r["entry"] for r in ordered if r["status"] == "transferred"]
    failed = [r["entry"] for r in ordered if r["status"] != "transferred"]
    stem = input_path.stem or "instances"
    transferred_path = settings.output / f"{stem}_transferred.json"
    failed_path = settings.output / f"{stem}_failed.json"
    atomic_write_json(transferred_path, transferred)
    atomic_write_json(failed_path, failed)
    total = len(ordered)
    reasons: dict[str, int] = {}
    for r in ordered:
        if r["status"] != "transferred":
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    summary = {
        "total": total, "succeeded": len(transferred), "failed": len(failed),
        "success_rate": round(len(transferred) / total, 4) if total else 0.0,
        "failed_instances": [{"instance_id": r["instance_id"], "reason": r["reason"]}
                             for r in ordered if r["status"] != "transferred"],
        "reasons": dict(sorted(reasons.items())),
        "builds": counter.builds, "skipped_existing": skipped,
        "eval_timeout_s": settings.eval_timeout, "max_iterations": settings.max_iterations,
        "llm": bool(settings.llm is not None),
    }
    atomic_write_json(settings.output / "summary.json", summary)
    return BatchResult(summary, transferred_path, failed_path)
