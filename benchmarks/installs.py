"""Install real projects the way `r2e build` would, and print success rate and time per repo.

Each project is a PyPI source distribution (pip download --no-binary :all:) with its sdist
packaging metadata removed (PKG-INFO, *.egg-info) so it looks like a bare repository checkout;
`--bare` also removes setup.py/setup.cfg/pyproject.toml/requirements files, leaving only the
import scan. Every project is built twice: without and with the rule-based repairs.

    python benchmarks/installs.py [--backend docker|local] [-j 2] [--bare] [--out DIR] [NAME==VER ...]

`--trees DIR` builds real upstream git checkouts instead (every folder of DIR holding a .git; with
their tests, CI files and packaging intact), copied first so the originals stay untouched, and
reports per repo: status, the discovered test command and where it came from, tests run, pass
ratio, flaky tests, time and image size (docker):

    python benchmarks/installs.py --trees /tmp/disc-trees --backend docker --modes rules [--python 3.11] [NAME ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from installers.build_many import BuildItem, build_many  # noqa: E402
from installers.options import BuildOptions  # noqa: E402
from r2e.experiment import Experiment  # noqa: E402
from r2e.workspace import Workspace  # noqa: E402

# Small, real projects whose sdists ship their tests; three of them carry C extensions.
DEFAULT_PROJECTS = [
    "six==1.16.0", "toolz==0.12.1", "more-itertools==10.2.0", "python-dateutil==2.9.0.post0",
    "tabulate==0.9.0", "cachetools==5.3.3", "itsdangerous==2.1.2", "sortedcontainers==2.4.0",
    "boltons==24.0.0", "isodate==0.6.1", "markupsafe==2.1.5", "simplejson==3.19.2",
    "jmespath==1.0.1", "wcwidth==0.2.13", "pyparsing==3.1.2", "ujson==5.9.0",
]
METADATA = ["PKG-INFO"]
BUILD_FILES = ["setup.py", "setup.cfg", "pyproject.toml", "MANIFEST.in", "tox.ini", "Pipfile"]


def fetch(spec: str, dest: Path) -> Path:
    """Download and unpack one sdist; return the project folder."""
    dl = dest / "_sdists"
    dl.mkdir(parents=True, exist_ok=True)
    name = spec.split("==")[0].lower().replace("_", "-")
    have = [p for p in dl.iterdir() if p.name.lower().replace("_", "-").startswith(name + "-")]
    if not have:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        spec, "-d", str(dl)], check=True)
        have = [p for p in dl.iterdir() if p.name.lower().replace("_", "-").startswith(name + "-")]
    archive = have[0]
    out = dest / name
    if out.exists():
        shutil.rmtree(out)
    tmp = dest / f"_unpack-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    if archive.suffix == ".zip":
        zipfile.ZipFile(archive).extractall(tmp)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(tmp)
    inner = next(tmp.iterdir())
    inner.rename(out)
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def strip(repo: Path, bare: bool) -> None:
    for name in METADATA + (BUILD_FILES if bare else []):
        (repo / name).unlink(missing_ok=True)
    for egg in list(repo.rglob("*.egg-info")):
        shutil.rmtree(egg, ignore_errors=True)
    if bare:
        for req in list(repo.glob("requirements*.txt")):
            req.unlink()


def copy_trees(root: Path, names: list[str], dest: Path) -> list[BuildItem]:
    """Every git checkout under `root` (or the `names` among them), copied under `dest`."""
    if not root.is_dir():
        raise SystemExit(f"error: no such folder: {root}")
    folders = sorted(p for p in root.iterdir() if (p / ".git").exists() and (not names or p.name in names))
    missing = sorted(set(names) - {p.name for p in folders})
    if missing:
        raise SystemExit(f"error: not git checkouts under {root}: {', '.join(missing)}")
    items = []
    for src in folders:
        out = dest / src.name
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(src, out, symlinks=True)
        head = subprocess.run(["git", "-C", str(out), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        items.append(BuildItem(src.name, out, commit=head or None))
    return items


def image_sizes(client, image: str | None, base_cache: dict) -> tuple[float | None, float | None]:
    """(image MB, MB above its base): what one repo's environment costs on disk."""
    if client is None or not image:
        return None, None
    try:
        img = client.images.get(image)
    except Exception:
        return None, None
    size = img.attrs.get("Size") or 0
    parent_size = None
    history = img.history()
    below = [h for h in history[1:] if h.get("Id") not in (None, "<missing>")]
    if below:
        base = below[0]["Id"]
        if base not in base_cache:
            try:
                base_cache[base] = client.images.get(base).attrs.get("Size") or 0
            except Exception:
                base_cache[base] = None
        parent_size = base_cache[base]
    return round(size / 1e6, 1), round((size - parent_size) / 1e6, 1) if parent_size is not None else None


def tree_report(items: list[BuildItem], exp: Experiment, client) -> list[dict]:
    rows, base_cache = [], {}
    for it in items:
        try:
            res = exp.build_result(it.repo_id)
        except Exception:
            res = None
        if res is None:
            rows.append({"repo": it.repo_id, "status": "not_built"})
            continue
        tc, run = res.test_command or {}, res.test_run or {}
        size, layer = image_sizes(client, res.image, base_cache)
        rows.append({"repo": it.repo_id, "status": res.status, "python": res.python,
                     "command": tc.get("command"), "source": tc.get("source"), "runner": tc.get("runner"),
                     "tests": len(run.get("tests") or {}), "counts": run.get("counts"), "flaky": run.get("flaky"),
                     "pass_ratio": res.pass_ratio, "duration": res.duration, "image": res.image,
                     "image_mb": size, "layer_mb": layer,
                     "failure": res.failure.to_dict() if res.failure and res.status != "success" else None})
    return rows


def print_tree_report(rows: list[dict]) -> None:
    print(f"{'repo':<16}{'status':<10}{'tests':>7}{'pass':>7}{'secs':>7}{'MB':>7}{'+MB':>7}  command (source)")
    for r in rows:
        ratio = "-" if r.get("pass_ratio") is None else f"{r['pass_ratio']:.3f}"
        print(f"{r['repo']:<16}{r['status']:<10}{r.get('tests', 0):>7}{ratio:>7}{r.get('duration') or 0:>7.0f}"
              f"{r.get('image_mb') or '-':>7}{r.get('layer_mb') or '-':>7}  {r.get('command')} ({r.get('source')})")
        if r.get("failure"):
            print(f"{'':<16}{r['failure']['class']}: {r['failure']['message'][:150]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("projects", nargs="*", default=DEFAULT_PROJECTS)
    ap.add_argument("--backend", choices=["docker", "local"], default="docker")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--bare", action="store_true", help="also remove setup.py/pyproject/setup.cfg/requirements")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--out", type=Path, default=Path("/tmp/r2e-bench-installs"))
    ap.add_argument("--modes", default="norules,rules", help="comma list of: norules, rules")
    ap.add_argument("--trees", type=Path, help="build the git checkouts in this folder (projects: their names)")
    ap.add_argument("--python", help="force one Python version (e.g. the one base image already built)")
    args = ap.parse_args()

    repos_dir = args.out / "repos"
    items = []
    if args.trees:
        names = [] if args.projects == DEFAULT_PROJECTS else args.projects
        items = copy_trees(args.trees, names, args.out / "trees")
    for spec in [] if args.trees else args.projects:
        repo = fetch(spec, repos_dir)
        strip(repo, args.bare)
        items.append(BuildItem(repo.name, repo, commit=spec))
    report = {}
    for mode in args.modes.split(","):
        opts = BuildOptions(backend=args.backend, timeout_per_task=args.timeout, rules=(mode == "rules"), llm=None,
                            rebuild=True, python=args.python)  # every mode installs from scratch: comparable times
        t0 = time.monotonic()
        # Each mode builds into its own experiment of a workspace under --out.
        flavour = "-trees" if args.trees else "-bare" if args.bare else ""
        exp = Experiment(Workspace(args.out), f"build-{mode}{flavour}")
        summary = build_many(items, exp, opts, workers=args.jobs, force=True, echo=lambda *a, **k: None)
        wall = time.monotonic() - t0
        report[mode] = {"summary": summary, "wall": wall}
        if args.trees:
            rows = tree_report(items, exp, opts.docker_client)
            report[mode]["trees"] = rows
            print(f"\n== {mode} ({args.backend}, git trees): success "
                  f"{sum(r['status'] == 'success' for r in rows)}/{len(rows)}, wall {wall:.0f}s")
            print_tree_report(rows)
            continue
        print(f"\n== {mode} ({args.backend}{', bare' if args.bare else ''}): "
              f"success {summary['counts'].get('success', 0)}/{len(items)} "
              f"({100 * (summary['success_rate'] or 0):.0f}%), counts {summary['counts']}, wall {wall:.0f}s")
        print(f"{'repo':<22}{'status':<10}{'python':<8}{'pass':>8}{'secs':>8}")
        for rid, info in summary["repos"].items():
            ratio = "-" if info["pass_ratio"] is None else f"{info['pass_ratio']:.2f}"
            print(f"{rid:<22}{info['status']:<10}{str(info['python']):<8}{ratio:>8}{info['duration'] or 0:>8.1f}")
    (args.out / f"report{'-trees' if args.trees else '-bare' if args.bare else ''}.json").write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
