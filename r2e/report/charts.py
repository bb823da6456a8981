"""PNG charts with matplotlib's headless Agg backend (imported only when a chart is drawn)."""

from __future__ import annotations

import io
from pathlib import Path

from r2e.fsio import atomic_write_bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def bar_chart(path: Path, labels: list[str], values: list[float], title: str, ylabel: str,
              horizontal: bool = False) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.35 * len(labels))) if horizontal else (7, 3.6))
    try:
        if horizontal:
            ax.barh(labels[::-1], values[::-1], color="#4878a8")
            ax.set_xlabel(ylabel)
        else:
            ax.bar(labels, values, color="#4878a8")
            ax.set_ylabel(ylabel)
            ax.tick_params(axis="x", labelrotation=30 if len(labels) > 5 else 0)
        if all(float(v).is_integer() for v in values):  # counts: no 0.2-repository ticks
            from matplotlib.ticker import MaxNLocator

            (ax.xaxis if horizontal else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title)
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)
    return path


def line_chart(path: Path, xs: list[float], ys: list[float], title: str, xlabel: str, ylabel: str) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    try:
        ax.plot(xs, ys, marker="o", color="#4878a8")
        ax.set_ylim(0, 1.05)
        ax.set_xticks(xs)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        _save(fig, path)
    finally:
        plt.close(fig)
    return path


def _save(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write_bytes(path, buf.getvalue())


def draw_all(figures: dict, folder: Path) -> dict[str, Path]:
    """Every chart the figures support; name -> PNG path. Empty data draws no chart."""
    out: dict[str, Path] = {}
    b = figures["build"]
    if b["status_counts"]:
        out["status"] = bar_chart(folder / "status.png", list(b["status_counts"]), list(b["status_counts"].values()),
                                  "Build status", "repositories")
    if b["exception_classes"]:
        top = list(b["exception_classes"].items())[:15]
        out["exceptions"] = bar_chart(folder / "exceptions.png", [k for k, _ in top], [v for _, v in top],
                                      "Top exception classes in failed builds", "repositories", horizontal=True)
    if b["missing_modules"]:
        top = b["missing_modules"][:15]
        labels = [f"{r['module']} (pip: {r['distribution']})" if r["name_mismatch"] else r["module"] for r in top]
        out["missing_modules"] = bar_chart(folder / "missing_modules.png", labels, [r["count"] for r in top],
                                           "Missing modules", "repositories", horizontal=True)
    if any(b["pass_ratio_histogram"].values()):
        h = b["pass_ratio_histogram"]
        out["pass_ratio"] = bar_chart(folder / "pass_ratio.png", list(h), list(h.values()),
                                      "Test pass ratio per repository", "repositories")
    for key, title in (("success_by_python", "Success rate by Python version"),
                       ("success_by_build_system", "Success rate by build system")):
        if b[key]:
            out[key] = bar_chart(folder / f"{key}.png", list(b[key]), [v["rate"] for v in b[key].values()],
                                 title, "success rate")
    durations = {k: v for k, v in b["duration"]["per_repo"].items() if isinstance(v, (int, float))}
    if durations:
        top = sorted(durations.items(), key=lambda kv: -kv[1])[:25]
        out["duration"] = bar_chart(folder / "duration.png", [k for k, _ in top], [v for _, v in top],
                                    "Build time per repository (slowest 25)", "seconds", horizontal=True)
    g = figures.get("genexec")
    if g and g["rounds"]:
        rounds = [r for r in g["rounds"] if isinstance(r.get("done_fraction"), (int, float))]
        if rounds:
            out["done_fraction"] = line_chart(folder / "done_fraction.png", [r["round"] for r in rounds],
                                              [r["done_fraction"] for r in rounds], "Genexec: functions done per round",
                                              "round", "done fraction (cumulative)")
    if g and any(g["coverage_histogram"].values()):
        h = g["coverage_histogram"]
        out["coverage"] = bar_chart(folder / "coverage.png", list(h), list(h.values()),
                                    "Branch coverage of the final harnesses", "functions")
    return out
