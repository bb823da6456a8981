"""Install real projects the way `r2e build` would, and print success rate and time per repo.

Each project is a PyPI source distribution (pip download --no-binary :all:) with its sdist
packaging metadata removed (PKG-INFO, *.egg-info) so it looks like a bare repository checkout;
`--bare` also removes setup.py/setup.cfg/pyproject.toml/requirements files, leaving only the
import scan. Every project is built twice: without and with the rule-based repairs.

    python benchmarks/installs.py [--backend docker|local] [-j 2] [--bare] [--out DIR] [NAME==VER ...]
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("projects", nargs="*", default=DEFAULT_PROJECTS)
    ap.add_argument("--backend", choices=["docker", "local"], default="docker")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--bare", action="store_true", help="also remove setup.py/pyproject/setup.cfg/requirements")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--out", type=Path, default=Path("/tmp/r2e-bench-installs"))
    ap.add_argument("--modes", default="norules,rules", help="comma list of: norules, rules")
    args = ap.parse_args()

    repos_dir = args.out / "repos"
    items = []
    for spec in args.projects:
        repo = fetch(spec, repos_dir)
        strip(repo, args.bare)
        items.append(BuildItem(repo.name, repo, commit=spec))
    report = {}
    for mode in args.modes.split(","):
        opts = BuildOptions(backend=args.backend, timeout_per_task=args.timeout, rules=(mode == "rules"), llm=None,
                            rebuild=True)  # every mode installs from scratch: comparable times
        t0 = time.monotonic()
        # Each mode builds into its own experiment of a workspace under --out.
        exp = Experiment(Workspace(args.out), f"build-{mode}{'-bare' if args.bare else ''}")
        summary = build_many(items, exp, opts, workers=args.jobs, force=True, echo=lambda *a, **k: None)
        wall = time.monotonic() - t0
        report[mode] = {"summary": summary, "wall": wall}
        print(f"\n== {mode} ({args.backend}{', bare' if args.bare else ''}): "
              f"success {summary['counts'].get('success', 0)}/{len(items)} "
              f"({100 * (summary['success_rate'] or 0):.0f}%), counts {summary['counts']}, wall {wall:.0f}s")
        print(f"{'repo':<22}{'status':<10}{'python':<8}{'pass':>8}{'secs':>8}")
        for rid, info in summary["repos"].items():
            ratio = "-" if info["pass_ratio"] is None else f"{info['pass_ratio']:.2f}"
            print(f"{rid:<22}{info['status']:<10}{str(info['python']):<8}{ratio:>8}{info['duration'] or 0:>8.1f}")
    (args.out / f"report{'-bare' if args.bare else ''}.json").write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
