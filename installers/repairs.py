"""Rule-based repairs for the common failure modes, tried before any model is asked.

Each rule reads the oracle result and the failed install commands and proposes a `Repair`:
shell commands to run in the environment, or a restart with another Python. Rules are data-driven
(installers/data/*.json); a repair already tried is never proposed again.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources

from installers.declared import req_name
from installers.oracle import failure_text, missing_modules
from installers.plan import InstallPlan, _plugin_table, distribution_for
from installers.scan import stdlib_names
from r2e.stage_records import OracleResult

_COLLECTIONS = re.compile(r"cannot import name '(\w+)' from 'collections'")
_HEADER = re.compile(r"fatal error: ([\w./+-]+\.h): No such file or directory")
_LIB = re.compile(r"cannot find -l([\w+.-]+)")
_FIXTURE = re.compile(r"fixture '(\w+)' not found")
_ASYNC = re.compile(r"async def functions are not natively supported|PytestUnhandledCoroutineWarning")
_MARKER = re.compile(r"'(\w+)' not found in `markers` configuration option")
_PIN_FAIL = re.compile(r"No solution found when resolving|Could not find a version that satisfies|"
                       r"ResolutionImpossible|Failed to build|failed to build|Because .* depends on")
# Test suites written for an older pytest (removed hooks, arguments or helpers).
_OLD_PYTEST = re.compile(r"PluginValidationError|can not be found in the hookspec|pytest\.warns\(None\)|"
                         r"Unknown config option: (?:collect_ignore|python_paths)|has no attribute 'yield_fixture'|"
                         r"PytestRemovedIn\d+Warning|'Package' object has no attribute 'obj'")
PYTEST_PINS = ["pytest<8", "pytest<7"]
_COMMAND_MISSING = re.compile(r"(?:bash: (?:line \d+: )?|)([\w+.-]+): command not found")
OLDER_PYTHON = "3.9"  # the last Python with the deprecated aliases in `collections`


@dataclass
class Repair:
    rule: str
    key: str  # identity, so one repair is tried once
    commands: list[str] = field(default_factory=list)
    python: str | None = None  # restart the install with this Python
    system_packages: list[str] = field(default_factory=list)
    dists: list[str] = field(default_factory=list)  # distributions it installs (wheelhouse mode fetches them)

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=1)
def debian_table() -> dict:
    return json.loads((resources.files("installers") / "data" / "debian_headers.json").read_text(encoding="utf-8"))


def relax_pin(req: str) -> str | None:
    """`name==1.2.3` / `name<2` -> `name`; None when there is nothing to relax."""
    name_part = re.split(r"[<>=!~;\[ ]", req, 1)[0]
    if req.strip() == name_part or not name_part:
        return None
    extras = re.search(r"\[[^\]]*\]", req)
    marker = req.split(";", 1)[1].strip() if ";" in req else ""
    relaxed = name_part + (extras.group(0) if extras else "")
    return relaxed + (f"; {marker}" if marker else "")


def propose(oracle: OracleResult | None, install_output: str, failed_requirements: list[str],
            plan: InstallPlan, pip: str, docker: bool, tried: set[str]) -> list[Repair]:
    """Repairs for what went wrong, most specific first, minus those already tried."""
    out: list[Repair] = []
    text = install_output + "\n" + (failure_text(oracle) if oracle else "")
    std = stdlib_names()
    own = set(plan.top_level)
    # 1. A missing module -> its mapped distribution.
    for module in (missing_modules(oracle) if oracle else []):
        if module in std or module in own:
            continue
        dist = distribution_for(module)
        if dist:
            out.append(Repair("missing-module", f"module:{module}", [f"{pip} '{dist}'"], dists=[dist]))
    # 2. Names removed from `collections` in 3.10 -> an older Python.
    if _COLLECTIONS.search(text) and plan.python != OLDER_PYTHON:
        out.append(Repair("collections-abc", f"python:{OLDER_PYTHON}", python=OLDER_PYTHON))
    # 3. A missing C header / library / tool -> the Debian package (docker only: the host is the user's).
    table = debian_table()
    pkgs = [table["headers"].get(h) for h in _HEADER.findall(text)]
    pkgs += [table["libraries"].get(lib) for lib in _LIB.findall(text)]
    pkgs += [table["tools"].get(t) for t in _COMMAND_MISSING.findall(text)]
    for pkg in dict.fromkeys(p for p in pkgs if p):
        if docker:
            out.append(Repair("debian-package", f"apt:{pkg}",
                              ["apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                               f"--no-install-recommends {pkg}"], system_packages=[pkg]))
    # 4. A pytest plugin that is missing (unknown fixture, marker or async tests).
    plugins = _plugin_table()
    wanted = [plugins["fixtures"].get(f) for f in _FIXTURE.findall(text)]
    wanted += [plugins["markers"].get(m) for m in _MARKER.findall(text)]
    if _ASYNC.search(text):
        wanted.append("pytest-asyncio")
    for dist in dict.fromkeys(d for d in wanted if d):
        out.append(Repair("pytest-plugin", f"plugin:{dist}", [f"{pip} '{dist}'"], dists=[dist]))
    # 5. Tests written for an older pytest -> step pytest back a major version at a time.
    if _OLD_PYTEST.search(text):
        for pin in PYTEST_PINS:
            if f"pytest-pin:{pin}" not in tried:
                out.append(Repair("old-pytest", f"pytest-pin:{pin}", [f"{pip} '{pin}'"], dists=[pin]))
                break
    # 6. Over-tight pins that cannot be installed -> the same distributions unpinned.
    if failed_requirements and _PIN_FAIL.search(install_output):
        relaxed = [r for r in (relax_pin(req) for req in failed_requirements) if r]
        if relaxed:
            quoted = " ".join(shlex.quote(r) for r in relaxed)
            out.append(Repair("relax-pins", "relax:" + ",".join(sorted(req_name(r) or r for r in relaxed)),
                              [f"{pip} {quoted}"], dists=relaxed))
    return [r for r in _dedupe(out) if r.key not in tried]


def _dedupe(repairs: list[Repair]) -> list[Repair]:
    seen: set[str] = set()
    out = []
    for r in repairs:
        if r.key not in seen:
            seen.add(r.key)
            out.append(r)
    return out
