"""Pure aggregation of loaded results into the figures a report shows."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

from r2e.report.classify import distribution_for, exception_class, missing_module
from r2e.report.load import ExperimentResults, build_system_of, python_of
from r2e.stage_records import GenexecRun

SUCCESS = "success"
RATIO_BINS = [i / 10 for i in range(11)]  # 0.0, 0.1, ... 1.0


def _bin_label(lo: float, hi: float) -> str:
    return f"{lo:.1f}-{hi:.1f}"


def histogram(values: list[float], edges: list[float] = RATIO_BINS) -> dict[str, int]:
    """Counts per [lo, hi) bin, the last bin closed: values equal to the top edge count in it."""
    counts = {_bin_label(lo, hi): 0 for lo, hi in zip(edges, edges[1:])}
    labels = list(counts)
    for v in values:
        for i, (lo, hi) in enumerate(zip(edges, edges[1:])):
            if lo <= v < hi or (i == len(labels) - 1 and v == hi):
                counts[labels[i]] += 1
                break
    return counts


def _rate_by(builds, key) -> dict[str, dict]:
    groups: dict[str, list] = defaultdict(list)
    for b in builds:
        groups[str(key(b) or "unknown")].append(b)
    return {k: {"repos": len(v), "success": sum(b.status == SUCCESS for b in v),
                "rate": round(sum(b.status == SUCCESS for b in v) / len(v), 4)}
            for k, v in sorted(groups.items())}


def _repair_key(step: dict) -> str:
    if step.get("rule"):
        return f"rule: {step['rule']}"
    command = step.get("command") or step.get("reply") or ", ".join(step.get("commands") or []) or "?"
    return f"{step.get('source', 'llm')}: {str(command)[:80]}"


def build_figures(results: ExperimentResults) -> dict:
    builds = results.builds
    status = Counter(b.status for b in builds)
    classes: Counter = Counter()
    missing: Counter = Counter()
    for b in builds:
        if b.status == SUCCESS:
            continue
        message, tail = b.failure.message if b.failure else "", results.log_tails.get(b.repo, "")
        cls = exception_class(message, tail, b.failure.cls if b.failure else None)
        if cls:
            classes[cls] += 1
        mod = missing_module(message, tail, b.failure.module if b.failure else None, cls)
        if mod:
            missing[mod] += 1
    missing_rows = []
    for mod, count in missing.most_common():
        dist, mismatch = distribution_for(mod)
        missing_rows.append({"module": mod, "count": count, "distribution": dist, "name_mismatch": mismatch})
    repairs: dict[str, dict] = {}
    for b in builds:
        for step in b.repair_steps:
            row = repairs.setdefault(_repair_key(step), {"repair": _repair_key(step), "tried": 0, "helped": 0})
            row["tried"] += 1
            row["helped"] += bool(step.get("helped"))
    durations = [b.duration for b in builds if isinstance(b.duration, (int, float))]
    ratios = [b.pass_ratio for b in builds if isinstance(b.pass_ratio, (int, float))]
    return {
        "experiment": results.experiment,
        "repos": len(builds),
        "in_progress": results.in_progress,
        "unreadable": results.unreadable,
        "success_rate": round(status.get(SUCCESS, 0) / len(builds), 4) if builds else None,
        "status_counts": dict(status.most_common()),
        "exception_classes": dict(classes.most_common()),
        "missing_modules": missing_rows,
        "pass_ratio_histogram": histogram(ratios),
        "success_by_python": _rate_by(builds, python_of),
        "success_by_build_system": _rate_by(builds, build_system_of),
        "duration": {
            "per_repo": {b.repo: b.duration for b in builds},
            "median": round(statistics.median(durations), 2) if durations else None,
            "mean": round(statistics.fmean(durations), 2) if durations else None,
            "total": round(sum(durations), 2),
        },
        "repairs": sorted(repairs.values(), key=lambda r: (-r["helped"], -r["tried"], r["repair"])),
    }


def genexec_figures(doc: GenexecRun | None) -> dict | None:
    if doc is None:
        return None
    functions = doc.functions
    covs = [f.branch_coverage for f in functions.values() if f.branch_coverage is not None]
    rounds = [{"round": r.get("round"), "done_fraction": r.get("done_fraction"), "valid": r.get("valid"),
               "worklist": r.get("worklist")} for r in doc.rounds]
    return {
        "generator": doc.generator,
        "functions": len(functions),
        "valid": sum(f.valid for f in functions.values()),
        "done": sum(f.done for f in functions.values()),
        "rounds": rounds,
        "coverage_histogram": histogram(covs),
        "median_branch_coverage": round(statistics.median(covs), 4) if covs else None,
        "status_counts": dict(Counter(str(f.status) for f in functions.values()).most_common()),
        "stop_reason": doc.stop_reason,
        "finished": bool(doc.finished),
    }


def tasks_figures(summary: dict | None) -> dict | None:
    """Task making: candidates and valid tasks per strategy, and every rejection by its reason class."""
    if not summary:
        return None
    return {
        "total": int(summary.get("total") or 0),
        "valid": int(summary.get("valid") or 0),
        "rejections": dict(sorted((summary.get("rejections") or {}).items(), key=lambda kv: -kv[1])),
        "per_strategy": summary.get("per_strategy") or {},
        "median_validation_seconds": summary.get("median_validation_seconds"),
    }


def report_figures(results: ExperimentResults) -> dict:
    return {"build": build_figures(results), "genexec": genexec_figures(results.genexec),
            "tasks": tasks_figures(results.tasks)}
