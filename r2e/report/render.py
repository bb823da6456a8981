"""Markdown, HTML and JSON renderings of the report figures."""

from __future__ import annotations

import html
import json
from pathlib import Path

CHART_TITLES = {
    "status": "Status", "exceptions": "Exception classes", "missing_modules": "Missing modules",
    "pass_ratio": "Pass ratios", "success_by_python": "By Python version",
    "success_by_build_system": "By build system", "duration": "Time per repository",
    "done_fraction": "Genexec rounds", "coverage": "Coverage",
}


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def sections(figures: dict) -> list[tuple[str, list[str], list[list[str]], str | None]]:
    """(title, header, rows, chart name) for every table; shared by markdown and HTML."""
    b = figures["build"]
    out = [
        ("Status", ["status", "repositories"], [[k, str(v)] for k, v in b["status_counts"].items()], "status"),
        ("Exception classes (failed builds)", ["class", "repositories"],
         [[k, str(v)] for k, v in b["exception_classes"].items()], "exceptions"),
        ("Missing modules", ["module", "repositories", "distribution", "import name != distribution"],
         [[r["module"], str(r["count"]), r["distribution"], "yes" if r["name_mismatch"] else "no"]
          for r in b["missing_modules"]], "missing_modules"),
        ("Test pass ratio", ["pass ratio", "repositories"], [[k, str(v)] for k, v in b["pass_ratio_histogram"].items()],
         "pass_ratio"),
        ("Success by Python version", ["python", "repositories", "success", "rate"],
         [[k, str(v["repos"]), str(v["success"]), _pct(v["rate"])] for k, v in b["success_by_python"].items()],
         "success_by_python"),
        ("Success by build system", ["build system", "repositories", "success", "rate"],
         [[k, str(v["repos"]), str(v["success"]), _pct(v["rate"])] for k, v in b["success_by_build_system"].items()],
         "success_by_build_system"),
        ("Time per repository", ["repository", "seconds"],
         [[k, "n/a" if v is None else f"{v:.1f}"] for k, v in b["duration"]["per_repo"].items()], "duration"),
        ("Repairs that helped", ["repair", "tried", "helped"],
         [[r["repair"], str(r["tried"]), str(r["helped"])] for r in b["repairs"]], None),
    ]
    g = figures.get("genexec")
    if g:
        out.append(("Genexec rounds", ["round", "worklist", "valid", "done fraction"],
                    [[str(r["round"]), str(r["worklist"]), str(r["valid"]), _pct(r["done_fraction"])] for r in g["rounds"]],
                    "done_fraction"))
        out.append(("Harness branch coverage", ["branch coverage", "functions"],
                    [[k, str(v)] for k, v in g["coverage_histogram"].items()], "coverage"))
    t = figures.get("tasks")
    if t:
        out.append(("Task candidates by strategy", ["strategy", "candidates", "valid"],
                    [[k, str(v.get("candidates", 0)), str(v.get("valid", 0))] for k, v in t["per_strategy"].items()],
                    None))
        out.append(("Rejected task candidates", ["reason", "candidates"],
                    [[k, str(v)] for k, v in t["rejections"].items()], None))
    return out


def summary_lines(figures: dict) -> list[str]:
    b = figures["build"]
    lines = [f"{b['repos']} repositories built, success rate {_pct(b['success_rate'])}; "
             f"median time {b['duration']['median'] if b['duration']['median'] is not None else 'n/a'} s"]
    if b["in_progress"]:
        lines.append(f"{len(b['in_progress'])} builds still running (no result yet): partial report")
    if b["unreadable"]:
        lines.append(f"unreadable result files: {', '.join(b['unreadable'])}")
    g = figures.get("genexec")
    if g:
        lines.append(f"genexec ({g['generator']}): {g['valid']} valid, {g['done']} done of {g['functions']} functions; "
                     f"median branch coverage {_pct(g['median_branch_coverage'])}"
                     + ("" if g["finished"] else " (still running)"))
    t = figures.get("tasks")
    if t:
        rejected = ", ".join(f"{k} {v}" for k, v in t["rejections"].items()) or "none"
        lines.append(f"tasks: {t['valid']} valid of {t['total']} candidates; rejected: {rejected}")
    return lines


def to_markdown(figures: dict, charts: dict[str, Path], folder: Path) -> str:
    parts = [f"# R2E report: {figures['build']['experiment']}", ""] + [f"- {ln}" for ln in summary_lines(figures)]
    for title, header, rows, chart in sections(figures):
        parts += ["", f"## {title}", ""]
        if chart in charts:
            parts += [f"![{CHART_TITLES[chart]}]({charts[chart].relative_to(folder).as_posix()})", ""]
        if not rows:
            parts.append("_none_")
            continue
        parts.append("| " + " | ".join(header) + " |")
        parts.append("|" + "---|" * len(header))
        parts += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(parts) + "\n"


def to_html(figures: dict, charts: dict[str, Path], folder: Path) -> str:
    e = html.escape
    body = [f"<h1>R2E report: {e(figures['build']['experiment'])}</h1>", "<ul>"]
    body += [f"<li>{e(ln)}</li>" for ln in summary_lines(figures)] + ["</ul>"]
    for title, header, rows, chart in sections(figures):
        body.append(f"<h2>{e(title)}</h2>")
        if chart in charts:
            body.append(f'<img src="{e(charts[chart].relative_to(folder).as_posix())}" alt="{e(CHART_TITLES[chart])}">')
        if not rows:
            body.append("<p><em>none</em></p>")
            continue
        body.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        body += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
        body.append("</table>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>R2E report</title><style>{style}</style>"
            f"</head><body>{''.join(body)}</body></html>\n")


def to_json(figures: dict, charts: dict[str, Path], folder: Path) -> str:
    return json.dumps({**figures, "charts": {k: v.relative_to(folder).as_posix() for k, v in charts.items()}},
                      indent=2) + "\n"


RENDERERS = {"md": ("report.md", to_markdown), "html": ("report.html", to_html), "json": ("report.json", to_json)}
