"""Measure `r2e extract` on real PyPI sdists: slice sufficiency, minimality, speed, memory.

    python benchmarks/python_slices.py                       # requests, click, attrs, more-itertools
    python benchmarks/python_slices.py sympy==1.13.3 --no-filters
    python benchmarks/python_slices.py --details 5           # print 5 insufficient slices

Sufficiency: the slice, as one standalone module, parses and has no undefined names per pyflakes
(builtins are known to pyflakes). Minimality: median of context_tokens / file_tokens. Each project
runs in a fresh subprocess (cold parse cache unless --warm) so wall time and peak RSS are its own.
"""

from __future__ import annotations

import argparse
import ast
import json
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
DEFAULT = ["requests==2.32.3", "click==8.1.7", "attrs==24.2.0", "more-itertools==10.5.0"]


def fetch(spec: str) -> Path:
    """Download (once) and unpack an sdist; return the unpacked folder."""
    name, ver = spec.split("==")
    sdists, src = CACHE / "sdists", CACHE / "src"
    sdists.mkdir(parents=True, exist_ok=True)
    src.mkdir(parents=True, exist_ok=True)
    for d in src.iterdir():
        if d.name.lower().replace("_", "-") == f"{name}-{ver}".lower().replace("_", "-"):
            return d
    if not any(f.name.lower().replace("_", "-").startswith(f"{name}-{ver}".lower().replace("_", "-")) for f in sdists.iterdir()):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", spec,
                        "-d", str(sdists), "-q"], check=True)
    archive = next(f for f in sdists.iterdir() if f.name.lower().replace("_", "-").startswith(f"{name}-{ver}".lower().replace("_", "-")))
    with tarfile.open(archive) as tf:
        tf.extractall(src, filter="data")
    return next(d for d in src.iterdir() if d.name.lower().replace("_", "-") == f"{name}-{ver}".lower().replace("_", "-"))


def undefined_names(text: str) -> list[str] | None:
    """Undefined names pyflakes reports in `text`, or None when it does not parse."""
    from pyflakes import checker, messages

    try:
        tree = ast.parse(text)
        w = checker.Checker(tree, filename="slice.py")
    except (SyntaxError, RecursionError):  # RecursionError: pyflakes on very deep expressions
        return None
    return [m.message_args[0] for m in w.messages if isinstance(m, messages.UndefinedName)]


def measure_one(folder: str, no_filters: bool, cache_dir: str | None, depth: int | None, budget: int, jobs: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from r2e.analysis.driver import ExtractOptions, extract_repo
    from r2e.analysis.filters import FILTERS, FilterOptions

    opts = ExtractOptions(filters=FilterOptions(disabled=frozenset(FILTERS) if no_filters else frozenset()),
                          slice_depth=depth, max_context_tokens=budget, cache_dir=cache_dir, index_workers=jobs,
                          languages=("python",))  # bundled C (its own benchmark) is not pyflakes' business
    t0 = time.monotonic()
    res = extract_repo(Path(folder).name, folder, opts)
    t1 = time.monotonic()
    from r2e.analysis.graph import build_graph

    graph = build_graph(Path(folder).name, res.index)  # the networkx graph, timed too
    graph_s = time.monotonic() - t1
    wall = time.monotonic() - t0
    ru_self, ru_kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru_self.ru_utime + ru_self.ru_stime + ru_kids.ru_utime + ru_kids.ru_stime
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    bad, unparsable, inherited, ratios, examples = 0, 0, 0, [], []
    for r in res.records:
        und = undefined_names(r.context)
        if und is None:
            unparsable += 1
            examples.append({"id": r.id, "problem": "syntax error"})
        elif und:
            bad += 1
            own = set(undefined_names((Path(folder) / r.path).read_text(errors="replace")) or ())
            inherited += bool(set(und) <= own)
            note = " (undefined in the original file too)" if set(und) <= own else ""
            examples.append({"id": r.id, "problem": "undefined: " + ", ".join(sorted(set(und))) + note})
        if r.file_tokens:
            ratios.append(r.context_tokens / r.file_tokens)
    n = len(res.records)
    s = res.summary
    return {
        "project": Path(folder).name, "files": sum(s["files"].values()),
"functions": s["functions"], "extracted": n,
        "sufficient": n - bad - unparsable, "sufficiency": (n - bad - unparsable) / n if n else None,
        "unparsable": unparsable, "inherited": inherited, "median_ratio": statistics.median(ratios) if ratios else None,
        "trimmed": sum(1 for r in res.records if r.context_trimmed),
        "wall_s": round(wall, 2), "graph_s": round(graph_s, 2), "cpu_s": round(cpu, 1), "graph_nodes": graph.number_of_nodes(), "index_s": s["seconds"]["index"], "peak_rss_mib": round(rss),
        "skipped": s["skipped"], "examples": examples,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("specs", nargs="*", default=DEFAULT, help="NAME==VERSION of PyPI sdists")
    ap.add_argument("--no-filters", action="store_true", help="slice every function, not only kept ones")
    ap.add_argument("--warm", action="store_true", help="run twice, report the second (cached) run")
    ap.add_argument("--depth", type=int, default=None)
    ap.add_argument("--max-context-tokens", type=int, default=6000)
    ap.add_argument("--details", type=int, default=0, help="print N insufficient slices per project")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="processes parsing files (default 2)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.no_filters, args.cache_dir, args.depth, args.max_context_tokens, args.jobs)))
        return
    rows = []
    for spec in args.specs:
        folder = fetch(spec)
        with tempfile.TemporaryDirectory() as cache:
            cmd = [sys.executable, __file__, "--one", str(folder), "--cache-dir", cache,
                   "--max-context-tokens", str(args.max_context_tokens), "--jobs", str(args.jobs)]
            cmd += ["--no-filters"] if args.no_filters else []
            cmd += ["--depth", str(args.depth)] if args.depth else []
            runs = 2 if args.warm else 1
            for _ in range(runs):
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        suff = "-" if row["sufficiency"] is None else f"{row['sufficiency']:.2%}"
        ratio = "-" if row["median_ratio"] is None else f"{row['median_ratio']:.3f}"
        print(f"{row['project']:<24} files {row['files']:>5}  functions {row['functions']:>6}  sliced {row['extracted']:>6}  "
              f"sufficient {suff:>7} ({row['inherited']} of the rest inherit the source's own undefined names)  median ctx/file {ratio}  "
              f"wall {row['wall_s']:.1f}s, cpu {row['cpu_s']:.1f}s (index {row['index_s']:.1f}s, graph {row['graph_s']:.1f}s)  peak {row['peak_rss_mib']} MiB", flush=True)
        for ex in row["examples"][: args.details]:
            print(f"    {ex['id']}: {ex['problem']}")
    total = sum(r["extracted"] for r in rows)
    suff = sum(r["sufficient"] for r in rows)
    if total:
        print(f"ALL: {suff}/{total} sufficient ({suff / total:.2%}); median ctx/file per project: "
              + ", ".join(f"{r['project']} {r['median_ratio']:.3f}" for r in rows if r["median_ratio"] is not None))


if __name__ == "__main__":
    main()
