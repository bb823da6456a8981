"""What a run scored: totals, resolved ids, errors by class, per repository (with a 95 % Wilson interval)
and per exit reason; and the per-repository table of a run report as markdown.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from pathlib import Path

from harness.agents.outputs import error_class, is_error
from r2e.errors import R2EUsageError

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion: sane at 0 and n, unlike the normal approximation."""
    if n <= 0:
        return 0.0, 0.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


def repo_of(record: dict) -> str:
    ds = record.get("ds") or {}
    repo = ds.get("repo") or ds.get("repo_name")
    if repo:
        return str(repo)
    iid = str(record.get("instance_id") or "")
    return iid.rsplit("-", 1)[0] if "-" in iid else iid


def summarize(records: list[dict], exp_name: str = "") -> dict:
    total = len(records)
    resolved = sorted(str(r.get("instance_id")) for r in records if r.get("reward") == 1.0)
    errors = Counter(error_class(r) for r in records if is_error(r))
    per_repo: dict[str, dict] = {}
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        groups[repo_of(r)].append(r)
    for repo, rs in sorted(groups.items()):
        n, ok = len(rs), sum(1 for r in rs if r.get("reward") == 1.0)
        per_repo[repo] = {"n": n, "resolved": ok, "rate": round(ok / n, 4), "ci95": list(wilson(ok, n)),
                          "mean_steps": round(sum(len(r.get("trajectory_steps") or []) for r in rs) / n, 2)}
    exits: dict[str, dict] = {}
    for reason in sorted({str(r.get("exit_reason") or "") for r in records}):
        rs = [r for r in records if str(r.get("exit_reason") or "") == reason]
        exits[reason] = {"n": len(rs), "resolved": sum(1 for r in rs if r.get("reward") == 1.0)}
    return {
        "exp_name": exp_name, "total": total, "resolved": len(resolved),
        "rate": round(len(resolved) / total, 4) if total else 0.0, "ci95": list(wilson(len(resolved), total)),
        "resolved_ids": resolved, "errors": dict(sorted(errors.items())),
        "error_ids": sorted(str(r.get("instance_id")) for r in records if is_error(r)),
        "per_repo": per_repo, "per_exit_reason": exits,
        "mean_steps": round(sum(len(r.get("trajectory_steps") or []) for r in records) / total, 2) if total else 0.0,
    }


def markdown_table(summary: dict) -> str:
    lines = ["| repository | total | resolved | rate | 95% CI | mean steps |", "|---|---:|---:|---:|---|---:|"]
    for repo, row in summary["per_repo"].items():
        lo, hi = row["ci95"]
        lines.append(f"| {repo} | {row['n']} | {row['resolved']} | {row['rate']:.1%} | {lo:.1%}-{hi:.1%} "
                     f"| {row['mean_steps']:.1f} |")
    lo, hi = summary["ci95"]
    lines.append(f"| **all** | {summary['total']} | {summary['resolved']} | {summary['rate']:.1%} "
                 f"| {lo:.1%}-{hi:.1%} | {summary['mean_steps']:.1f} |")
    return "\n".join(lines) + "\n"


def draw_charts(summary: dict, folder: Path) -> list[Path]:
    """PNG charts of a run: resolve rate per repository, and instances per exit reason."""
    from r2e.report.charts import bar_chart

    repos = summary["per_repo"]
    exits = summary["per_exit_reason"]
    return [
        bar_chart(folder / "resolve_rate.png", list(repos), [100 * row["rate"] for row in repos.values()],
                  "Resolved per repository", "% resolved", horizontal=True),
        bar_chart(folder / "exit_reasons.png", [r or "none" for r in exits], [row["n"] for row in exits.values()],
                  "Exit reasons", "instances"),
    ]


def load_run(path: Path) -> tuple[str, list[dict]]:
    """(exp name, records) of a run folder OUT/EXP (its EXP.jsonl) or of a JSONL file itself."""
    path = Path(path)
    if path.is_dir():
        found = path / f"{path.name}.jsonl"
        if not found.exists():
            raise R2EUsageError(f"{path}: no run here (expected {found.name}, written by `r2e agent run`)")
        path = found
    if not path.exists():
        raise R2EUsageError(f"run not found: {path}")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise R2EUsageError(f"{path}: line {number} is not valid JSON") from None
    return path.stem, records
