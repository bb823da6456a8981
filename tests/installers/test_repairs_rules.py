"""The data rules: pkg_resources, distutils, removed stdlib modules, nose on new Pythons, test-only modules,
pytest plugins named by a conftest, `-p`, an option or an ini key; and one local build repaired end to end."""

from __future__ import annotations

import re

import pytest

from installers.build import build_repo
from installers.options import BuildOptions
from installers.plan import InstallPlan
from installers.repairs import newest_python_before, propose, python_matches, rules_table
from r2e.stage_records import OracleResult
from tests.conftest import make_git_repo
from tests.installers.fixtures import experiment

PIP = "uv pip install --python /v/bin/python"


def plan(python: str = "3.11") -> InstallPlan:
    return InstallPlan(python=python, python_reason="test", top_level=["mypkg"])


def collection_error(module_line: str, missing: str, via: str = "") -> OracleResult:
    """pytest's report of a test module that cannot be imported (the shape of a real run's tail)."""
    text = (
        "==================================== ERRORS ====================================\n"
        "_______________________ ERROR collecting tests/test_x.py _______________________\n"
        "ImportError while importing test module '/testbed/tests/test_x.py'.\n"
        "Hint: make sure your test modules/packages have valid Python names.\nTraceback:\n"
        "/usr/lib/python3.13/importlib/__init__.py:88: in import_module\n"
        "    return _bootstrap._gcd_import(name[level:], package, level)\n"
        f"tests/test_x.py:1: in <module>\n    {module_line}\n{via}"
        f"E   ModuleNotFoundError: No module named '{missing}'\n"
        "=========================== short test summary info ============================\n"
        "ERROR tests/test_x.py\n1 error in 0.03s\n")
    return OracleResult(imports_ok=True, output_tail=text, pytest_exit=2)


def first(oracle, python="3.11", tried=(), docker=False):
    got = propose(oracle, "", [], plan(python), PIP, docker, set(tried))
    return got[0] if got else None


def test_pkg_resources_gets_a_setuptools_that_still_ships_it():
    r = first(collection_error("import pkg_resources", "pkg_resources"))
    assert (r.rule, r.commands, r.dists) == ("pkg-resources", [f"{PIP} 'setuptools<82'"], ["setuptools<82"])
    assert "pkg_resources" in r.reason
    # the module -> distribution rule would install the newest setuptools (no pkg_resources): not proposed
    assert [x.rule for x in propose(collection_error("import pkg_resources", "pkg_resources"), "", [], plan(),
                                    PIP, False, {r.key})] == []
    # also when the repo's own import check hits it
    o = OracleResult(imports_ok=False, import_errors={"mypkg": {
        "type": "ModuleNotFoundError", "message": "No module named 'pkg_resources'", "module": "pkg_resources",
        "trace": "Traceback (most recent call last):\n  File \"/testbed/mypkg/__init__.py\", line 3, in <module>\n"
                 "    from pkg_resources import get_distribution\nModuleNotFoundError: No module named 'pkg_resources'\n"}})
    assert first(o).rule == "pkg-resources"


UV_BUILD_FAILURE = """  × Failed to build `oldver==0.3`
  ├─▶ The build backend returned an error
  ╰─▶ Call to `setuptools.build_meta:__legacy__.get_requires_for_build_wheel` failed (exit status: 1)

      [stderr]
      Traceback (most recent call last):
        File "<string>", line 14, in <module>
        File "/root/.cache/uv/builds-v0/.tmpQ239ld/lib/python3.11/site-packages/setuptools/build_meta.py", line 333, in get_requires_for_build_wheel
          return self._get_build_requires(config_settings, requirements=[])
        File "<string>", line 3, in <module>
      ModuleNotFoundError: No module named 'pkg_resources'

      hint: This usually indicates a problem with the package or the build environment.
"""


def test_pkg_resources_in_a_build_rebuilds_under_a_setuptools_constraint():
    p = InstallPlan(python="3.11", python_reason="test", top_level=["mypkg"], installable=True)
    [r] = [x for x in propose(None, UV_BUILD_FAILURE, ["oldver==0.3"], p, PIP, False, set())
           if x.rule.startswith("pkg-resources")]  # the venv's setuptools cannot help an isolated build
    assert r.rule == "pkg-resources-build" and r.dists == ["setuptools<82"]
    assert r.commands == ["printf '%s\\n' 'setuptools<82' > /tmp/r2e-pkg-resources-build-constraints.txt && "
                          f"UV_BUILD_CONSTRAINT=/tmp/r2e-pkg-resources-build-constraints.txt {PIP} oldver==0.3 -e ."]
    not_installable = InstallPlan(python="3.11", python_reason="test", top_level=["mypkg"])
    assert [x.rule for x in propose(None, UV_BUILD_FAILURE, [], not_installable, PIP, False, set())] == []


def test_distutils_on_new_python_setuptools_then_older_python_then_redistribution():
    o = collection_error("from distutils.version import LooseVersion", "distutils")
    steps, tried = [], set()
    while (got := propose(o, "", [], plan("3.13"), PIP, False, tried)):
        steps.append((got[0].rule, got[0].dists, got[0].python))
        tried.add(got[0].key)
    assert steps == [("distutils-setuptools", ["setuptools"], None), ("removed-stdlib", [], "3.11"),
                     ("stdlib-backport", ["standard-distutils"], None)]
    assert first(o, python="3.11") is None  # 3.11 has distutils: something else is wrong, no rule guesses


@pytest.mark.parametrize("module,python,restart,backport", [
    ("imp", "3.13", "3.11", "zombie-imp"),
    ("asynchat", "3.12", "3.11", "pyasynchat"),
    ("asyncore", "3.13", "3.11", "pyasyncore"),
    ("smtpd", "3.13", "3.11", "standard-smtpd"),
    ("telnetlib", "3.13", "3.11", "standard-telnetlib"),
    ("cgi", "3.13", "3.11", "legacy-cgi"),
    ("imghdr", "3.13", "3.11", "standard-imghdr"),
    ("audioop", "3.13", "3.11", "audioop-lts"),
    ("lib2to3", "3.13", "3.11", None),
    ("formatter", "3.11", "3.9", None),
])
def test_removed_stdlib_module_restarts_with_the_newest_python_that_had_it(module, python, restart, backport):
    o = collection_error(f"import {module}", module)
    got = propose(o, "", [], plan(python), PIP, False, set())
    assert (got[0].rule, got[0].python, got[0].key) == ("removed-stdlib", restart, f"python:{restart}")
    assert f"`{module}` left the standard library" in got[0].reason
    rest = [(r.rule, r.dists) for r in got[1:]]
    assert rest == ([("stdlib-backport", [backport])] if backport else [])
    assert propose(o, "", [], plan(restart), PIP, False, set()) == []  # the old Python has it: nothing to do


def test_nose_on_new_python_becomes_pynose_then_an_older_python():
    via = ("/testbed/.venv/lib/python3.13/site-packages/nose/__init__.py:1: in <module>\n"
           "    from nose.core import collector, main, run, run_exit, runmodule\n"
           "/testbed/.venv/lib/python3.13/site-packages/nose/importer.py:12: in <module>\n"
           "    from imp import find_module, load_module, acquire_lock, release_lock\n")
    o = collection_error("from nose.tools import assert_equal", "imp", via)
    got = propose(o, "", [], plan("3.13"), PIP, False, set())
    assert [(r.rule, r.dists or r.python) for r in got[:2]] == [("nose-pynose", ["pynose"]), ("removed-stdlib", "3.11")]
    missing = collection_error("from nose.tools import assert_equal", "nose")
    assert first(missing, python="3.13").dists == ["pynose"]
    assert first(missing, python="3.11").commands == [f"{PIP} 'nose'"]  # nose itself still imports on 3.11


@pytest.mark.parametrize("module,dist", [
    ("mock", "mock"), ("hypothesis", "hypothesis"), ("freezegun", "freezegun"), ("responses", "responses"),
    ("parameterized", "parameterized"), ("six", "six"), ("vcr", "vcrpy"), ("factory", "factory-boy"),
])
def test_test_only_modules_map_to_their_distributions(module, dist):
    r = first(collection_error(f"import {module}", module))
    assert (r.rule, r.dists) == ("missing-module", [dist]) and dist in r.reason


def test_conftest_plugins_options_and_ini_keys_lead_to_the_plugin():
    conftest = OracleResult(imports_ok=True, pytest_exit=4, output_tail=(
        "ImportError while loading conftest '/testbed/tests/conftest.py'.\n"
        "tests/conftest.py:1: in <module>\n    import pytest_asyncio\n"
        "E   ModuleNotFoundError: No module named 'pytest_asyncio'\n"))
    got = propose(conftest, "", [], plan(), PIP, False, set())
    assert [(r.rule, r.commands) for r in got] == [("pytest-plugin", [f"{PIP} 'pytest-asyncio'"])]
    named = OracleResult(imports_ok=True, pytest_exit=1, output_tail=(
        "ERROR: Error importing plugin \"pytest_mock\": No module named 'pytest_mock'\n\n"))
    assert first(named).dists == ["pytest-mock"]
    dash_p = OracleResult(imports_ok=True, pytest_exit=1,
                          output_tail="ERROR: Error importing plugin \"xdist\": No module named 'xdist'\n")
    assert first(dash_p).dists == ["pytest-xdist"]
    usage = OracleResult(imports_ok=True, pytest_exit=4, output_tail=(
        "ERROR: usage: python -m pytest [options] [file_or_dir] [file_or_dir] [...]\n"
        "python -m pytest: error: unrecognized arguments: --cov=click --cov-report=term-missing -n --timeout=30\n"
        "  inifile: /testbed/pytest.ini\n  rootdir: /testbed\n"))
    r = first(usage)  # all at once: installing one of them would leave pytest unable to start
    assert r.rule == "pytest-plugin" and r.dists == ["pytest-cov", "pytest-xdist", "pytest-timeout"]
    assert r.commands == [f"{PIP} pytest-cov pytest-xdist pytest-timeout"] and "--cov-report" in r.reason
    ini = OracleResult(imports_ok=True, pytest_exit=1, output_tail=(
        "  /testbed/.venv/lib/python3.11/site-packages/_pytest/config/__init__.py:1636: PytestConfigWarning: "
        "Unknown config option: asyncio_mode\n"))
    assert first(ini).dists == ["pytest-asyncio"]


def test_rules_file_is_well_formed_and_versions_compare():
    table = rules_table()
    for rule in table["rules"]:
        re.compile(rule["match"])
        assert rule["name"] and rule["reason"] and rule.get("where", "any") in ("any", "install", "oracle")
        assert rule.get("install") or rule.get("build_constraints") or rule.get("restart") or rule.get("system")
    for module, entry in table["removed_stdlib"].items():
        assert re.fullmatch(r"3\.\d+", entry["removed_in"]), module
    assert python_matches(">=3.12", "3.13") and not python_matches(">=3.12", "3.9") and python_matches(None, "3.9")
    assert newest_python_before("3.12") == "3.11" and newest_python_before("3.10") == "3.9"
    assert newest_python_before("3.9") is None


def test_pkg_resources_in_setup_py_rebuilt_end_to_end(tmp_path):
    """setup.py imports pkg_resources: the isolated build fails, the repo lacks its metadata; rebuilt under setuptools<82."""
    repo = tmp_path / "pkgbuild"
    make_git_repo(repo, {
        "setup.py": "import pkg_resources\nfrom setuptools import setup\n\nsetup(name='pbx', version='0.3', packages=['pbx'])\n",
        "pbx/__init__.py": "from importlib.metadata import version\n\n__version__ = version('pbx')\n",
        "tests/test_pbx.py": "import pbx\n\ndef test_version():\n    assert pbx.__version__ == '0.3'\n",
    })
    r = build_repo("pbx", repo, experiment(tmp_path), BuildOptions(backend="local", timeout_per_task=300))
    assert r.status == "success", r.repair_steps
    assert [(s["rule"], s["helped"]) for s in r.repair_steps] == [("pkg-resources-build", True)]
    assert any("UV_BUILD_CONSTRAINT" in c for c in r.install_script)


def test_pkg_resources_repaired_end_to_end(tmp_path):
    """The plan installs the newest setuptools for `import pkg_resources` (it no longer ships it); the rule pins it."""
    repo = tmp_path / "pkgres"
    make_git_repo(repo, {
        "pr/__init__.py": "def add(a, b):\n    return a + b\n",
        "tests/test_pr.py": "import pkg_resources\nfrom pr import add\n\n"
                            "def test_add():\n    assert add(1, 2) == 3\n\n"
                            "def test_version():\n    assert pkg_resources.parse_version('1.10') > pkg_resources.parse_version('1.9')\n",
    })
    bare = build_repo("pr", repo, experiment(tmp_path / "a"), BuildOptions(backend="local", rules=False,
                                                                              timeout_per_task=300))
    assert bare.status == "failed" and "No module named 'pkg_resources'" in bare.oracle.output_tail
    fixed = build_repo("pr", repo, experiment(tmp_path / "b"), BuildOptions(backend="local", timeout_per_task=300))
    assert fixed.status == "success", fixed.repair_steps
    [step] = fixed.repair_steps
    assert (step["rule"], step["dists"], step["helped"]) == ("pkg-resources", ["setuptools<82"], True)
    assert "setuptools 82.0.0" in step["reason"]
    assert any("setuptools<82" in c for c in fixed.plan["extra_steps"])  # folded into the install script
