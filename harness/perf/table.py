"""`r2e perf table`: the seed's speed-up table (markdown, HTML, JSON) and a chart with error bars."""

from __future__ import annotations

import html
from pathlib import Path
from statistics import median

from r2e.fsio import atomic_write_json, atomic_write_text
from r2e.stage_records import PerfCandidate, PerfHarness, PerfMeasurement

COLUMNS = ("repo", "target API", "commit A^", "commit B", "time A (s)", "time B (s)", "speed-up", "opt %",
           "instr. A/B", "p", "admitted")


def rows(measurements: list[PerfMeasurement], candidates: dict[str, PerfCandidate],
         harnesses: dict[str, PerfHarness], *, admitted_only: bool = False) -> list[dict]:
    out = []
    for m in measurements:
        if (admitted_only and not m.admitted) or not m.wall_a or not m.wall_b:
            continue
        cand = candidates.get(m.candidate)
        h = harnesses.get(m.candidate)
        cpu = m.extra.get("metric") == "cpu" and m.cpu_a and m.cpu_b
        ta, tb = (median(m.cpu_a), median(m.cpu_b)) if cpu else (median(m.wall_a), median(m.wall_b))
        opt = (1 - 1 / m.speedup) * 100 if m.speedup else None
        opt_lo = (1 - 1 / m.ci_low) * 100 if m.ci_low else None
        opt_hi = (1 - 1 / m.ci_high) * 100 if m.ci_high else None
        out.append({"candidate": m.candidate, "repo": cand.repo if cand else m.candidate.split("@")[0],
                    "api": (h.api if h else None) or (cand.apis[0] if cand and cand.apis else ""),
                    "commit_a": cand.parent[:8] if cand else "", "commit_b": cand.commit[:8] if cand else "",
                    "subject": cand.subject if cand else "", "time_a": ta, "time_b": tb, "speedup": m.speedup,
                    "ci": [m.ci_low, m.ci_high], "opt_pct": opt, "opt_ci": [opt_lo, opt_hi],
                    "instr_ratio": m.instr_ratio, "counter": m.counter, "p_value": m.p_value,
                    "repeats": m.repeats, "metric": "cpu" if cpu else "wall", "admitted": m.admitted,
                    "reason": m.reason})
    return out


def _fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def cells(row: dict) -> list[str]:
    lo, hi = row["opt_ci"]
    return [row["repo"], row["api"], row["commit_a"], row["commit_b"], _fmt(row["time_a"], ".4f"),
            _fmt(row["time_b"], ".4f"), _fmt(row["speedup"], ".3f"),
            f"{_fmt(row['opt_pct'], '.2f')} ({_fmt(lo, '.2f')}–{_fmt(hi, '.2f')})",
            f"{_fmt(row['instr_ratio'], '.3f')} ({row['counter']})", _fmt(row["p_value"], ".2g"),
            "yes" if row["admitted"] else "no"]


def markdown(table: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells(r)) + " |" for r in table]
    return "\n".join(lines) + "\n"


def html_table(table: list[dict]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells(r)) + "</tr>\n" for r in table)
    return (f"<!doctype html><meta charset='utf-8'><title>r2e perf</title>\n<table border='1'>\n"
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody></table>\n")


def chart(table: list[dict], path: Path) -> Path | None:
    rows_ = [r for r in table if r["speedup"]]
    if not rows_:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['api'].rsplit('.', 1)[-1]}\n{r['commit_b']}" for r in rows_]
    values = [r["speedup"] for r in rows_]
    low = [max(0.0, r["speedup"] - (r["ci"][0] or r["speedup"])) for r in rows_]
    high = [max(0.0, (r["ci"][1] or r["speedup"]) - r["speedup"]) for r in rows_]
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(rows_) + 2), 3.5))
    ax.bar(range(len(rows_)), values, yerr=[low, high], capsize=4,
           color=["tab:green" if r["admitted"] else "tab:gray" for r in rows_])
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(rows_)), labels, fontsize=7)
    ax.set_ylabel("speed-up (median A / median B)")
    ax.set_title("r2e perf: speed-up with bootstrap 95 % interval (green: admitted)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_table(table: list[dict], folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {"md": folder / "table.md", "html": folder / "table.html", "json": folder / "table.json"}
    atomic_write_text(out["md"], markdown(table))
    atomic_write_text(out["html"], html_table(table))
    atomic_write_json(out["json"], table)
    png = chart(table, folder / "speedups.png")
    if png:
        out["png"] = png
    return out


