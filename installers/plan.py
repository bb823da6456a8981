"""The install plan of a repository: which Python, which distributions, which steps.

Declared dependencies (declared.py) plus inferred ones (an import scan mapped to distributions
through pipreqs' table and our own overrides), the Python version (requires-python, classifiers,
syntax features) and a Python-2 verdict. Pure data; the steps are shell commands run in an
`Environment` by build.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from installers.declared import Declared, dedupe_requirements, normalize, read_declared, req_name
from installers.repo_files import RepoFiles
from installers.scan import ScanResult, scan_repo, stdlib_names
from r2e.import_names import import_table

SUPPORTED_PYTHONS = ["3.9", "3.11", "3.13"]  # what base images carry (installers.images.RELEASES)
DEFAULT_PYTHON = "3.11"
PLAN_VERSION = 1


@dataclass
class InstallPlan:
    python: str
    python_reason: str
    python2: bool = False
    requirements: list[str] = field(default_factory=list)  # declared runtime deps, installed together
    inferred: dict[str, str] = field(default_factory=dict)  # import name -> distribution (not declared)
    optional: dict[str, str] = field(default_factory=dict)  # guarded/lazy imports: best effort
    test_requirements: list[str] = field(default_factory=list)
    installable: bool = False
    top_level: list[str] = field(default_factory=list)
    src_dirs: list[str] = field(default_factory=lambda: ["."])
    has_tests: bool = False
    python_files: int = 0
    system_packages: list[str] = field(default_factory=list)  # Debian packages (docker backend)
    extra_steps: list[str] = field(default_factory=list)  # folded-in repair commands
    sources: list[str] = field(default_factory=list)
    unparsable: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # paths resolving outside the repository: never read
    version: int = PLAN_VERSION

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "InstallPlan":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def requirement_groups(self) -> list[list[str]]:
        """[runtime (declared + inferred), test]: installed as two batches, so a test pin cannot sink the runtime."""
        runtime = dedupe_requirements([*self.requirements, *self.inferred.values()])
        names = {req_name(r) for r in runtime}
        test = [r for r in dedupe_requirements(self.test_requirements) if req_name(r) not in names]
        return [g for g in (runtime, test) if g]

    def all_requirements(self) -> list[str]:
        """Declared + inferred + test requirements, one per distribution, declared first."""
        return dedupe_requirements([*self.requirements, *self.inferred.values(), *self.test_requirements])


def distribution_for(import_name: str) -> str | None:
    """The PyPI distribution providing `import_name` ('' in the table means: not installable alone)."""
    dist = import_table().get(import_name, import_name)
    return dist or None


def make_plan(repo: Path, python: str | None = None) -> InstallPlan:
    repo = Path(repo)
    files = RepoFiles(repo)  # one reader for every host-side read, so every refusal lands in the plan
    declared = read_declared(repo, files)
    scan = scan_repo(repo, files)
    version, reason = choose_python(declared, scan, python)
    plan = InstallPlan(python=version, python_reason=reason)
    plan.python2 = is_python2(declared, scan)
    plan.requirements = declared.requirements
    plan.test_requirements = _test_requirements(files, declared, scan)
    plan.installable = declared.installable
    plan.top_level, plan.src_dirs = scan.top_level, scan.src_dirs
    plan.has_tests = bool(scan.test_files)
    plan.python_files = scan.python_files
    plan.sources = declared.sources
    plan.unparsable = scan.unparsable
    plan.notes = declared.notes
    plan.inferred, plan.optional = _inferred(declared, scan, plan.test_requirements)
    plan.refused = list(files.refused)
    return plan


def _inferred(declared: Declared, scan: ScanResult, test_reqs: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    std = stdlib_names()
    have = {req_name(r) for r in [*declared.requirements, *test_reqs]}
    inferred: dict[str, str] = {}
    optional: dict[str, str] = {}
    for name in sorted(scan.imports):
        if name in std or name in scan.own_modules or not name.isidentifier() or name.startswith("_") and name != "_pytest":
            continue
        dist = distribution_for(name)
        if not dist or normalize(dist) in have or normalize(name) in have:
            continue
        (optional if name in scan.optional_imports else inferred)[name] = dist
    return inferred, optional


def _test_requirements(files: RepoFiles, declared: Declared, scan: ScanResult) -> list[str]:
    reqs = list(declared.test_requirements)
    if scan.test_files or declared.test_requirements:
        if "pytest" not in {req_name(r) for r in [*reqs, *declared.requirements]}:
            reqs.insert(0, "pytest")
    for dist in pytest_plugins_needed(files, scan.conftest_text, scan.test_files):
        if normalize(dist) not in {req_name(r) for r in [*reqs, *declared.requirements]}:
            reqs.append(dist)
    return reqs


@lru_cache(maxsize=1)
def _plugin_table() -> dict:
    return json.loads((resources.files("installers") / "data" / "pytest_plugins.json").read_text(encoding="utf-8"))


def pytest_config_text(repo: Path | RepoFiles) -> str:
    files = repo if isinstance(repo, RepoFiles) else RepoFiles(repo)
    parts = []
    for name in ("pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml"):
        text = files.read_text(name)
        if text is not None:
            m = re.search(r"^\[(?:tool:)?pytest\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
            m2 = re.search(r"^\[tool\.pytest\.ini_options\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
            parts += [g.group(1) for g in (m, m2) if g]
    return "\n".join(parts)


def pytest_plugins_needed(repo: Path | RepoFiles, conftest_text: str, test_files: list[str]) -> list[str]:
    """Plugins the pytest config, conftest files and tests reveal (options, ini keys, fixtures, markers)."""
    files = repo if isinstance(repo, RepoFiles) else RepoFiles(repo)
    table = _plugin_table()
    config = pytest_config_text(files)
    found: list[str] = []
    addopts = " ".join(re.findall(r"addopts\s*=\s*(.*?)(?=\n\S|\Z)", config, re.S))
    for opt, dist in table["options"].items():
        if dist and re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", addopts):
            found.append(dist)
    for key, dist in table["ini_keys"].items():
        if dist and re.search(rf"^\s*{re.escape(key)}\s*=", config, re.M):
            found.append(dist)
    test_text = conftest_text
    for rel in test_files[:300]:
        test_text += (files.read_text(rel) or "")[:50_000]
    for fixture, dist in table["fixtures"].items():
        if dist and re.search(rf"def test\w*\([^)]*\b{re.escape(fixture)}\b", test_text):
            found.append(dist)
    for marker, dist in table["markers"].items():
        if dist and re.search(rf"@pytest\.mark\.{re.escape(marker)}\b", test_text):
            found.append(dist)
    for m in re.finditer(r"pytest_plugins\s*=\s*[\[(]?([^\n\])]*)", conftest_text):
        for name in re.findall(r"[\"']([\w.]+)[\"']", m.group(1)):
            top = name.split(".")[0]
            if top.startswith("pytest_"):
                found.append(top.replace("_", "-"))
    return list(dict.fromkeys(found))


def _vt(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split(".")[:2])


def choose_python(declared: Declared, scan: ScanResult, forced: str | None) -> tuple[str, str]:
    """Pick the supported Python for this repo, with the reason it was picked."""
    if forced:
        return forced, "--python"
    candidates = list(SUPPORTED_PYTHONS)
    reason = "default"
    floor = scan.min_python
    if floor > (3, 0):
        candidates = [c for c in candidates if _vt(c) >= floor] or candidates[-1:]
    if declared.requires_python:
        try:
            from packaging.specifiers import SpecifierSet

            spec = SpecifierSet(declared.requires_python.replace(" ", ""))
            ok = [c for c in candidates if spec.contains(c + ".0", prereleases=True)
                  or spec.contains(c + ".99", prereleases=True)]
            if ok:
                candidates, reason = ok, f"requires-python {declared.requires_python}"
        except Exception:
            pass
    py3_classifiers = [c for c in declared.classifier_pythons if c.startswith("3.")]
    if py3_classifiers:
        top = max(_vt(c) for c in py3_classifiers)
        under = [c for c in candidates if _vt(c) <= top]
        if under:
            pick = under[-1]
            return pick, (f"{reason}; classifiers up to {'.'.join(map(str, top))}" if reason != "default"
                          else f"classifiers up to {'.'.join(map(str, top))}")
    if DEFAULT_PYTHON in candidates:
        pick = DEFAULT_PYTHON
    else:
        pick = candidates[-1] if _vt(candidates[-1]) < _vt(DEFAULT_PYTHON) else candidates[0]
    if floor > (3, 0) and reason == "default":
        feature = next(iter(scan.feature_files), "syntax")
        reason = f"syntax needs >= {floor[0]}.{floor[1]} ({feature})"
    return pick, reason


def is_python2(declared: Declared, scan: ScanResult) -> bool:
    """Python-2-only: its classifiers say only 2.x, requires-python excludes 3, or most files are Python 2."""
    if declared.classifier_pythons and all(c.startswith("2.") for c in declared.classifier_pythons):
        return True
    if declared.requires_python:
        try:
            from packaging.specifiers import SpecifierSet

            spec = SpecifierSet(declared.requires_python.replace(" ", ""))
            if not any(spec.contains(f"3.{m}.0") for m in range(0, 15)) and spec.contains("2.7.0"):
                return True
        except Exception:
            pass
    if scan.python_files and scan.py2_files:
        return len(scan.py2_files) * 2 >= scan.python_files
    return False
