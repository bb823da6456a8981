"""How many C slices compile on their own, on real C code nobody here wrote.

For every library function the C extractor finds (only the main / test-file / generated-file
filters on; --all-functions turns those off too), the slice
(`context`) is written to a file and compiled with `cc -fsyntax-only -std=gnu11
-Werror=implicit-function-declaration -Werror=implicit-int`. Reports, per project: functions,
share of slices that compile, the most common first errors (the causes of the rest), extraction
time (index + graph + all slices) and median context tokens. The baseline: the function's own file
(a header too, as a C file of its own) compiled alone with the same flags and the project's include
directories (no configure step, no -D); a function of a .c file counts there only when the
compiler read its definition (not one under `#ifdef _WIN32`). The rate excluding baseline
failures is over those.

Inputs (real, fetched with the ordinary clients):
  --fetch DIR   pip download --no-deps --no-binary :all: lz4 zstandard brotli  (their bundled C
                libraries: lz4libs/, zstd/, c/) and `apt-get source zlib cjson hiredis` (needs a
                bookworm deb-src line in the apt sources); everything is unpacked under DIR.
  --trees DIR   every subfolder of DIR is a project (e.g. git checkouts of current upstream trees).
  PATH ...      or any C project folders.

    python benchmarks/c_slices.py --fetch /tmp/c-bench
    python benchmarks/c_slices.py --trees /tmp/c-trees
    python benchmarks/c_slices.py /path/to/zlib-1.2.13 --max-file-bytes 4000000 --json out.json
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from r2e.analysis.c.ccheck import FLAGS, check_compiles  # noqa: E402
from r2e.analysis.c.extract import C_FILTERS, CExtractOptions, extract_c_repo  # noqa: E402
from r2e.analysis.c.includes import system_include_dirs  # noqa: E402
from r2e.analysis.filters import FilterOptions  # noqa: E402

SDISTS = {"lz4": "lz4libs", "zstandard": "zstd", "brotli": "c"}
DEBIAN = ("zlib", "cjson", "hiredis")


def fetch(dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    projects = []
    sd = dest / "sdists"
    for name, sub in SDISTS.items():
        if not glob.glob(str(sd / f"{name}-*.tar.gz")):
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                            name, "-d", str(sd)], check=True)
        tgz = sorted(glob.glob(str(sd / f"{name}-*.tar.gz")))[-1]
        top = dest / Path(tgz).name[:-len(".tar.gz")]
        if not top.exists():
            with tarfile.open(tgz) as tf:
                tf.extractall(dest, filter="data")
        projects.append(top / sub)
    deb = dest / "debian"
    deb.mkdir(exist_ok=True)
    for name in DEBIAN:
        if not glob.glob(str(deb / f"{name}*.dsc")) and not glob.glob(str(deb / f"{name.lower()}*.dsc")):
            subprocess.run(["apt-get", "source", "-q", "--download-only", name], cwd=deb)
        origs = sorted(glob.glob(str(deb / f"{name}_*.orig.tar.*")))
        if not origs:  # the mirror may not serve it (a 404): that project is left out, said so
            print(f"{name}: Debian source not downloaded, left out", file=sys.stderr)
            continue
        orig = origs[-1]
        with tarfile.open(orig) as tf:
            first = tf.getmembers()[0].name.split("/")[0]
            if not (deb / first).exists():
                tf.extractall(deb, filter="data")
        projects.append(deb / first)
    return projects


def simplify(err: str) -> str:
    err = re.sub(r"‘[^’]*’|'[^']*'", "'X'", err)
    err = re.sub(r"[\w./-]+\.h: No such file", "<header>: No such file", err)
    return err.replace("; did you mean 'X'?", "")


# Filters kept on by default: the ones that decide what is library code at all (not tests, not
# programs' main, not generated files); the others (docstring, size, ...) are off so the measure
# covers every kind of library function. --all-functions turns every filter off.
LIBRARY_FILTERS = ("main", "test_file", "generated")


def compiles_in_place(project: Path, path: str, dirs: list[str], system_dirs: list[str]) -> tuple[bool, str]:
    """The original translation unit, compiled where it lies with the project's include dirs (a
    header as a C file of its own): (compiles, what the preprocessor kept of that file itself)."""
    inc = [f"-I{project / d}" if d else f"-I{project}" for d in system_dirs]
    inc += [f"-iquote{project / d}" if d else f"-iquote{project}" for d in dirs if d not in system_dirs]
    src = ["-x", "c", str(project / path)]
    try:
        ok = subprocess.run(["cc", *FLAGS, *inc, *src], capture_output=True, timeout=120, cwd=project).returncode == 0
        if not ok:
            return False, ""
        pre = subprocess.run(["cc", *[f for f in FLAGS if f != "-fsyntax-only"], "-E", *inc, *src],
                             capture_output=True, timeout=120, cwd=project, text=True, errors="replace")
    except subprocess.TimeoutExpired:
        return False, ""
    return True, own_lines(pre.stdout, str(project / path))


LINEMARKER = re.compile(r'^# \d+ "(.*)"')


def own_lines(preprocessed: str, path: str) -> str:
    """The lines of `preprocessed` that come from `path` itself (linemarkers say whose they are)."""
    out, mine = [], True
    for line in preprocessed.splitlines():
        m = LINEMARKER.match(line)
        if m:
            mine = m.group(1) == path
        elif mine:
            out.append(line)
    return "\n".join(out)


def defined_in(code: str, name: str) -> bool:
    """Does the preprocessed `code` define function `name` (a `{` or K&R declarations after the
    parameter list)? A function under `#ifdef _WIN32` in a file that compiles here is not compiled."""
    for m in re.finditer(rf"\b{re.escape(name)}\s*\(", code):
        depth, j = 0, m.end() - 1
        while j < len(code):
            depth += {"(": 1, ")": -1}.get(code[j], 0)
            if depth == 0:
                break
            j += 1
        rest = code[j + 1:j + 400].lstrip()
        if rest[:1] == "{" or re.match(r"[A-Za-z_][\w\s\*,\[\]]*;", rest):
            return True
    return False


def run(project: Path, workers: int, max_bytes: int, max_tokens: int | None, all_functions: bool = False) -> dict:
    off = C_FILTERS if all_functions else tuple(f for f in C_FILTERS if f not in LIBRARY_FILTERS)
    opts = CExtractOptions(filters=FilterOptions(disabled=frozenset(off)), max_context_tokens=max_tokens,
                           max_file_bytes=max_bytes)
    t0 = time.monotonic()
    records, stats = extract_c_repo(project, project.name, opts)
    t_extract = time.monotonic() - t0
    t1 = time.monotonic()
    with ThreadPoolExecutor(max(1, workers)) as ex:
        results = list(ex.map(lambda r: check_compiles(r.context), records))
    t_compile = time.monotonic() - t1
    ok = sum(1 for good, _ in results if good)
    # a header the machine does not have (windows.h, an event library's header): no slice of that
    # function can compile here, whatever the slicer does; reported separately, never hidden
    no_header = sum(1 for good, err in results if not good and "No such file or directory" in err)
    # the baseline: does the function's own .c file compile alone with the same flags and the
    # project's include directories (no configure step, no -D)? A slice cannot be expected to
    # compile where its original translation unit does not
    dirs = stats.get("include_dirs", [])
    sys_dirs = system_include_dirs(dirs, stats.get("include_dirs_from", "guessed"))
    sources = sorted({r.path for r in records})
    with ThreadPoolExecutor(max(1, workers)) as ex:
        done = dict(zip(sources, ex.map(lambda p: compiles_in_place(project, p, dirs, sys_dirs), sources)))
    file_ok = {p: ok for p, (ok, _) in done.items()}
    # a function counts in the baseline when its own file compiles alone and, for a .c file, the
    # compiler read it there (not under `#ifdef _WIN32`, say); a header's functions may wait for a
    # switch its includer sets (`#define FFC_IMPL`), so compiling alone is its whole baseline
    own_ok = [done[r.path][0] and (r.path.endswith(".h") or defined_in(done[r.path][1], r.name)) for r in records]
    baseline = [(r, res) for r, res, ok in zip(records, results, own_ok) if ok]
    baseline_ok = sum(1 for _, (good, _) in baseline if good)
    causes = Counter(simplify(err) for good, err in results if not good)
    examples = {}
    for r, (good, err) in zip(records, results):
        if not good:
            examples.setdefault(simplify(err), f"{r.id}: {err}")
    return {
        "project": project.name,
        "files": stats["files"]["c"],
        "functions_found": stats["functions"],
        "functions": len(records),
        "compile": ok,
        "rate": round(ok / len(records), 4) if records else None,
        "missing_system_header": no_header,
        "rate_where_headers_exist": round(ok / max(1, len(records) - no_header), 4) if records else None,
        "source_files_failing_alone": sorted(p for p, good in file_ok.items() if not good),
        "functions_not_compiled_in_own_file": sum(1 for r, ok in zip(records, own_ok) if file_ok[r.path] and not ok),
        "functions_where_own_file_compiles": len(baseline),
        "rate_where_own_file_compiles": round(baseline_ok / len(baseline), 4) if baseline else None,
        "extract_seconds": round(t_extract, 2),
        "compile_seconds": round(t_compile, 2),
        "median_context_tokens": statistics.median(r.context_tokens for r in records) if records else 0,
        "median_ratio": round(statistics.median(r.context_tokens / max(1, r.file_tokens) for r in records), 3) if records else None,
        "skipped": stats["skipped"],
        "causes": causes.most_common(8),
        "examples": [examples[c] for c, _ in causes.most_common(8)],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("projects", nargs="*", type=Path)
    ap.add_argument("--fetch", type=Path, help="download and unpack the standard inputs here")
    ap.add_argument("--trees", type=Path, help="a folder whose every subfolder is a project (git checkouts)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-file-bytes", type=int, default=4_000_000)
    ap.add_argument("--max-context-tokens", type=int, default=6000)
    ap.add_argument("--all-functions", action="store_true", help="turn every filter off (tests, main ... included)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    projects = list(args.projects)
    if args.fetch:
        projects += fetch(args.fetch)
    if args.trees:
        if not args.trees.is_dir():
            ap.error(f"--trees: not a folder: {args.trees}")
        projects += sorted(p for p in args.trees.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not projects:
        ap.error("give project folders, --trees DIR or --fetch DIR")
    rows = []
    for p in projects:
        row = run(p, args.workers, args.max_file_bytes, args.max_context_tokens, args.all_functions)
        rows.append(row)
        print(f"{row['project']:<22} files {row['files']:>4}  functions {row['functions']:>5}  compile "
              f"{row['compile']:>5} ({(row['rate'] or 0) * 100:5.1f} %)  extract {row['extract_seconds']:>6.2f} s  "
              f"cc {row['compile_seconds']:>6.1f} s  median ctx {row['median_context_tokens']} tok  "
              f"(without the {row['missing_system_header']} needing an absent header: "
              f"{(row['rate_where_headers_exist'] or 0) * 100:.1f} %; where the function's own file compiles "
              f"alone: {(row['rate_where_own_file_compiles'] or 0) * 100:.1f} % of "
              f"{row['functions_where_own_file_compiles']})", flush=True)
        for (cause, n), ex in zip(row["causes"], row["examples"]):
            print(f"    {n:>4} × {cause}\n           e.g. {ex[:160]}")
    total = sum(r["functions"] for r in rows)
    ok = sum(r["compile"] for r in rows)
    nh = sum(r["missing_system_header"] for r in rows)
    nb = sum(r["functions_where_own_file_compiles"] for r in rows)
    okb = sum(round((r["rate_where_own_file_compiles"] or 0) * r["functions_where_own_file_compiles"]) for r in rows)
    print(f"where the function's own file compiles alone: {okb} of {nb} ({okb / max(1, nb) * 100:.1f} %)")
    print("\n| project | functions | slices compiling | baseline (own file compiles alone) | rate excluding baseline failures |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        nbr = r["functions_where_own_file_compiles"]
        okr = round((r["rate_where_own_file_compiles"] or 0) * nbr)
        print(f"| {r['project']} | {r['functions']} | {r['compile']} ({(r['rate'] or 0) * 100:.1f} %) | {nbr} | "
              f"{okr} / {nbr} = {okr / max(1, nbr) * 100:.1f} % |")
    print(f"| **total** | {total} | {ok} ({ok / max(1, total) * 100:.1f} %) | {nb} | {okb} / {nb} = "
          f"{okb / max(1, nb) * 100:.1f} % |")
    print(f"TOTAL functions {total}  compile {ok} ({ok / max(1, total) * 100:.1f} %); "
          f"{nh} need an absent header; rate without them {ok / max(1, total - nh) * 100:.1f} %")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("LC_ALL", "C.UTF-8")
    raise SystemExit(main())
