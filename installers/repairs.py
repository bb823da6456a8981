"""Rule-based repairs for the common failure modes, tried before any model is asked.

Each rule reads the oracle result and the failed install commands and proposes a `Repair`:
shell commands to run in the environment, or a restart with another Python, with the reason it
applies. Rules are data-driven (installers/data/repair_rules.json, pytest_plugins.json,
debian_headers.json and the import-name table); a repair already tried is never proposed again.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources

from installers.declared import req_name
from installers.images import supported_pythons
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
_UNRECOGNIZED = re.compile(r"error: unrecognized arguments: ([^\n]*)")
_UNKNOWN_INI = re.compile(r"Unknown config option: (\w+)")
_PLUGIN_IMPORT = re.compile(r"Error importing plugin \"([\w.]+)\"")
_CONDITION = re.compile(r"(>=|<=|==|>|<)\s*(\d+(?:\.\d+)*)")


@dataclass
class Repair:
    rule: str
    key: str  # identity, so one repair is tried once
    commands: list[str] = field(default_factory=list)
    python: str | None = None  # restart the install with this Python
    system_packages: list[str] = field(default_factory=list)
    dists: list[str] = field(default_factory=list)  # distributions it installs (wheelhouse mode fetches them)
    reason: str = ""  # why this rule applies, recorded in repair_steps

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=1)
def debian_table() -> dict:
    return json.loads((resources.files("installers") / "data" / "debian_headers.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def rules_table() -> dict:
    return json.loads((resources.files("installers") / "data" / "repair_rules.json").read_text(encoding="utf-8"))


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:2])


def python_matches(condition: str | None, python: str) -> bool:
    """Does the plan's Python satisfy a rule's condition such as '>=3.12' (no condition: always)."""
    if not condition:
        return True
    m = _CONDITION.fullmatch(condition.strip())
    if not m:
        return False
    have, want = version_tuple(python), version_tuple(m.group(2))
    return {">=": have >= want, "<=": have <= want, "==": have == want, ">": have > want, "<": have < want}[m.group(1)]


def newest_python_before(removed_in: str) -> str | None:
    """The newest Python R2E has a base for that still shipped a module removed in `removed_in`."""
    older = [v for v in supported_pythons() if version_tuple(v) < version_tuple(removed_in)]
    return max(older, key=version_tuple) if older else None


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
    tests_text = failure_text(oracle) if oracle else ""
    text = install_output + "\n" + tests_text
    missing = missing_modules(oracle) if oracle else []
    # 1. The data rules (pkg_resources, distutils, nose on new Pythons...), in their file's order.
    out, handled = data_rules({"install": install_output, "oracle": tests_text, "any": text}, failed_requirements,
                              plan, pip, docker)
    # 2. Modules that left the standard library -> the newest Python that had them, else a redistribution.
    out += removed_stdlib(missing, plan, pip)
    # 3. Pytest plugins: named by a conftest's import or `pytest_plugins`, an option, an ini key, a fixture, a marker.
    out += pytest_plugins(text, missing, pip)
    std = stdlib_names()
    own = set(plan.top_level)
    # 4. A missing module -> its mapped distribution.
    for module in missing:
        if module in std or module in own or module in handled or module.startswith("pytest_"):
            continue
        dist = distribution_for(module)
        if dist:
            out.append(Repair("missing-module", f"module:{module}", [f"{pip} '{dist}'"], dists=[dist],
                              reason=f"No module named '{module}': the distribution {dist} provides it"))
    # 5. Names removed from `collections` in 3.10 -> an older Python.
    if _COLLECTIONS.search(text) and plan.python != OLDER_PYTHON:
        out.append(Repair("collections-abc", f"python:{OLDER_PYTHON}", python=OLDER_PYTHON,
                          reason=f"the `collections` ABC aliases left in Python 3.10; {OLDER_PYTHON} still has them"))
    # 6. A missing C header / library / tool -> the Debian package (docker only: the host is the user's).
    table = debian_table()
    pkgs = [table["headers"].get(h) for h in _HEADER.findall(text)]
    pkgs += [table["libraries"].get(lib) for lib in _LIB.findall(text)]
    pkgs += [table["tools"].get(t) for t in _COMMAND_MISSING.findall(text)]
    for pkg in dict.fromkeys(p for p in pkgs if p):
        if docker:
            out.append(apt_repair("debian-package", pkg, f"a missing header, library or tool is in {pkg}"))
    # 7. Tests written for an older pytest -> step pytest back a major version at a time.
    if _OLD_PYTEST.search(text):
        for pin in PYTEST_PINS:
            if f"pytest-pin:{pin}" not in tried:
                out.append(Repair("old-pytest", f"pytest-pin:{pin}", [f"{pip} '{pin}'"], dists=[pin],
                                  reason="the tests use pytest hooks, arguments or helpers newer pytests removed"))
                break
    # 8. Over-tight pins that cannot be installed -> the same distributions unpinned.
    if failed_requirements and _PIN_FAIL.search(install_output):
        relaxed = [r for r in (relax_pin(req) for req in failed_requirements) if r]
        if relaxed:
            quoted = " ".join(shlex.quote(r) for r in relaxed)
            out.append(Repair("relax-pins", "relax:" + ",".join(sorted(req_name(r) or r for r in relaxed)),
                              [f"{pip} {quoted}"], dists=relaxed,
                              reason="the pinned versions cannot be resolved or built here"))
    return [r for r in _dedupe(out) if r.key not in tried]


def install_repair(rule: str, dists: list[str], pip: str, reason: str) -> Repair:
    quoted = " ".join(shlex.quote(d) for d in dists)
    return Repair(rule, "install:" + ",".join(dists), [f"{pip} {quoted}"], dists=list(dists), reason=reason)


def apt_repair(rule: str, pkg: str, reason: str) -> Repair:
    return Repair(rule, f"apt:{pkg}", ["apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                                       f"--no-install-recommends {pkg}"], system_packages=[pkg], reason=reason)


def data_rules(texts: dict[str, str], failed_requirements: list[str], plan: InstallPlan, pip: str,
               docker: bool) -> tuple[list[Repair], set[str]]:
    """The repairs of repair_rules.json's `rules` that match, and the missing modules they cover."""
    out: list[Repair] = []
    handled: set[str] = set()
    for rule in rules_table()["rules"]:
        m = re.search(rule["match"], texts[rule.get("where", "any")])
        if not m or not python_matches(rule.get("python"), plan.python):
            continue
        if "module" in m.re.groupindex and m.group("module"):
            handled.add(m.group("module"))
        reason = rule.get("reason", "")
        if rule.get("install"):
            out.append(install_repair(rule["name"], rule["install"], pip, reason))
        if rule.get("build_constraints"):
            rebuild = build_constraint_repair(rule["name"], rule["build_constraints"], failed_requirements, plan,
                                              pip, reason)
            out += [rebuild] if rebuild else []
        if rule.get("restart") and rule["restart"] != plan.python:
            out.append(Repair(rule["name"], f"python:{rule['restart']}", python=rule["restart"], reason=reason))
        for pkg in rule.get("system", []) if docker else []:
            out.append(apt_repair(rule["name"], pkg, reason))
    return out, handled


def build_constraint_repair(rule: str, constraints: list[str], failed_requirements: list[str], plan: InstallPlan,
                            pip: str, reason: str) -> Repair | None:
    """Build again what failed to build (failed requirements, the repo itself) with build-time constraints:
    build isolation takes the newest build requirements, whatever is installed in the venv."""
    targets = [shlex.quote(r) for r in failed_requirements if not r.startswith("<")]
    targets += ["-e ."] if plan.installable else []  # repair commands run in the repo's folder
    if not targets:
        return None
    path = f"/tmp/r2e-{rule}-constraints.txt"
    lines = " ".join(shlex.quote(c) for c in constraints)
    return Repair(rule, f"build-constraints:{rule}",
                  [f"printf '%s\\n' {lines} > {path} && UV_BUILD_CONSTRAINT={path} {pip} {' '.join(targets)}"],
                  dists=list(constraints), reason=reason)


def removed_stdlib(missing: list[str], plan: InstallPlan, pip: str) -> list[Repair]:
    """A module the plan's Python no longer ships -> restart with the newest Python that has it, else its backport."""
    table = rules_table()["removed_stdlib"]
    restarts, backports = [], []
    for module in missing:
        entry = table.get(module)
        if not entry or version_tuple(plan.python) < version_tuple(entry["removed_in"]):
            continue
        target = newest_python_before(entry["removed_in"])
        if target:
            restarts.append(Repair("removed-stdlib", f"python:{target}", python=target,
                                   reason=f"`{module}` left the standard library in Python {entry['removed_in']}; "
                                          f"Python {target} still has it"))
        if entry.get("backport"):
            backports.append(install_repair("stdlib-backport", [entry["backport"]], pip,
                                            f"`{module}` left the standard library in Python {entry['removed_in']}; "
                                            f"{entry['backport']} redistributes it"))
    return restarts + backports  # restarts first: the maintainers' own Python beats a redistribution


def pytest_plugins(text: str, missing: list[str], pip: str) -> list[Repair]:
    """Plugins the failure names: a conftest import or `-p`/`pytest_plugins` entry, an unknown option or ini key,
    an unknown fixture or marker, coroutine tests without an async plugin."""
    table = _plugin_table()
    wanted: list[tuple[str | None, str]] = []
    for module in _PLUGIN_IMPORT.findall(text) + [m for m in missing if m.startswith("pytest_")]:
        top = module.split(".")[0]
        wanted.append((plugin_distribution(top), f"the plugin module `{top}` is not installed"))
    out = []
    for args in _UNRECOGNIZED.findall(text):
        # One line names every unknown option: their plugins go in together, or no single one would help.
        options = [t.split("=", 1)[0] for t in args.split() if t.startswith("-")]
        dists = list(dict.fromkeys(d for d in (option_plugin(o, table["options"]) for o in options) if d))
        if dists:
            quoted = " ".join(shlex.quote(d) for d in dists)
            out.append(Repair("pytest-plugin", "plugin:" + ",".join(dists), [f"{pip} {quoted}"], dists=dists,
                              reason=f"pytest does not know the options {' '.join(options)}: {', '.join(dists)} add them"))
    for key in _UNKNOWN_INI.findall(text):
        dist = table["ini_keys"].get(key)
        wanted.append((dist, f"pytest does not know the ini option {key}: {dist} adds it"))
    for f in _FIXTURE.findall(text):
        wanted.append((table["fixtures"].get(f), f"fixture '{f}' not found: a plugin provides it"))
    for marker in _MARKER.findall(text):
        wanted.append((table["markers"].get(marker), f"marker '{marker}' is unknown: a plugin registers it"))
    if _ASYNC.search(text):
        wanted.append(("pytest-asyncio", "async tests need an async plugin"))
    seen = {d for r in out for d in r.dists}
    for dist, reason in wanted:
        if dist and dist not in seen:
            seen.add(dist)
            out.append(Repair("pytest-plugin", f"plugin:{dist}", [f"{pip} '{dist}'"], dists=[dist], reason=reason))
    return out


def plugin_distribution(module: str) -> str | None:
    """`pytest_mock` -> pytest-mock, `xdist` -> pytest-xdist (the import-name table, then the module's own name)."""
    dist = distribution_for(module)
    return dist.replace("_", "-") if dist and dist.lower().startswith("pytest_") else dist


def option_plugin(option: str, options: dict[str, str]) -> str | None:
    """The plugin adding a command-line option: an exact entry, else a family (`--cov-report` -> `--cov`)."""
    if options.get(option):
        return options[option]
    for known, dist in sorted(options.items(), key=lambda kv: -len(kv[0])):
        if dist and known.startswith("--") and option.startswith(known + "-"):
            return dist
    return None


def _dedupe(repairs: list[Repair]) -> list[Repair]:
    seen: set[str] = set()
    out = []
    for r in repairs:
        if r.key not in seen:
            seen.add(r.key)
            out.append(r)
    return out
