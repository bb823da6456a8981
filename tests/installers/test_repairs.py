"""Rule-based repairs: which fix each real failure message leads to, and one end to end (old pytest hooks)."""

from __future__ import annotations

from installers.build import build_repo
from installers.options import BuildOptions
from installers.plan import InstallPlan
from installers.repairs import propose, relax_pin
from r2e.stage_records import OracleResult
from tests.conftest import make_git_repo
from tests.installers.fixtures import experiment

PIP = "uv pip install --python /v/bin/python"


def plan(**kw):
    return InstallPlan(python=kw.pop("python", "3.11"), python_reason="test", top_level=["mypkg"], **kw)


def oracle_with(text: str, **kw) -> OracleResult:
    return OracleResult(imports_ok=kw.pop("imports_ok", True), output_tail=text, **kw)


def rules(repairs):
    return [(r.rule, r.commands, r.python, r.system_packages) for r in repairs]


def test_missing_module_maps_to_distribution_and_skips_own_and_stdlib():
    o = oracle_with("E   ModuleNotFoundError: No module named 'yaml'\nE   ModuleNotFoundError: No module named 'mypkg.sub'\n"
                    "ImportError: No module named 'json'\n", imports_ok=False)
    assert rules(propose(o, "", [], plan(), PIP, False, set())) == [
        ("missing-module", [f"{PIP} 'PyYAML'"], None, [])]
    assert propose(o, "", [], plan(), PIP, False, {"module:yaml"}) == []  # tried once only


def test_collections_names_lead_to_older_python():
    o = oracle_with("ImportError: cannot import name 'Mapping' from 'collections' (/usr/lib/python3.11/collections/__init__.py)")
    [r] = propose(o, "", [], plan(), PIP, False, set())
    assert (r.rule, r.python) == ("collections-abc", "3.9")
    assert propose(o, "", [], plan(python="3.9"), PIP, False, set()) == []


def test_missing_header_and_library_become_debian_packages_in_docker_only():
    out = ("src/_cffi.c:2:10: fatal error: ffi.h: No such file or directory\n"
           "/usr/bin/ld: cannot find -lxml2: No such file or directory\n")
    got = rules(propose(None, out, [], plan(), PIP, True, set()))
    assert [g[3] for g in got] == [["libffi-dev"], ["libxml2-dev"]]
    assert "apt-get install" in got[0][1][0]
    assert propose(None, out, [], plan(), PIP, False, set()) == []  # never apt-get on the user's host


def test_pytest_plugins_old_pytest_and_relaxed_pins():
    o = oracle_with("E       fixture 'mocker' not found\n> available fixtures: cache, capsys")
    assert rules(propose(o, "", [], plan(), PIP, False, set()))[0][:2] == ("pytest-plugin", [f"{PIP} 'pytest-mock'"])
    old = oracle_with("pluggy._manager.PluginValidationError: Plugin '/testbed/tests/conftest.py' for hook "
                      "'pytest_ignore_collect'\nArgument(s) {'path'} are declared in the hookimpl but can not be found "
                      "in the hookspec\n", pytest_exit=1)
    first = propose(old, "", [], plan(), PIP, False, set())
    assert first[0].rule == "old-pytest" and first[0].commands == [f"{PIP} 'pytest<8'"]
    assert propose(old, "", [], plan(), PIP, False, {first[0].key})[0].commands == [f"{PIP} 'pytest<7'"]
    install_out = "  x No solution found when resolving dependencies:\n  Because numpy==1.21.0 has no wheels..."
    [r] = propose(None, install_out, ["numpy==1.21.0", "click<7; python_version<'3.12'"], plan(), PIP, False, set())
    assert r.rule == "relax-pins" and r.commands == [f"{PIP} numpy 'click; python_version<'\"'\"'3.12'\"'\"''"]
    assert r.dists == ["numpy", "click; python_version<'3.12'"]
    assert relax_pin("requests[socks]>=2,<3") == "requests[socks]" and relax_pin("six") is None


def test_old_pytest_hooks_repaired_end_to_end(tmp_path):
    repo = tmp_path / "oldhooks"
    make_git_repo(repo, {
        "oh/__init__.py": "def add(a, b):\n    return a + b\n",
        "tests/conftest.py": "def pytest_ignore_collect(path, config):\n    return False\n",
        "tests/test_oh.py": "from oh import add\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    })
    bare = build_repo("oh", repo, experiment(tmp_path / "a"), BuildOptions(backend="local", rules=False,
                                                                              timeout_per_task=300))
    assert bare.status == "failed" and bare.failure.cls == "TestsDidNotStart"
    fixed = build_repo("oh", repo, experiment(tmp_path / "b"), BuildOptions(backend="local", timeout_per_task=300))
    assert fixed.status == "success", fixed.repair_steps
    assert [s["rule"] for s in fixed.repair_steps] == ["old-pytest"]
