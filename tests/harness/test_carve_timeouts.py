"""Carving under bounds: a hung test costs its per-test timeout, a suite that never ends costs its
budget, and the samples recorded around them are kept."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.carve.carving import CarveOptions, carve_experiment, carve_options, carve_repo
from installers.local_env import LocalEnvironment
from r2e.stage_records import FunctionRecord
from tests.hostile.test_forged_verdicts import make_venv

MOD = '''\
def double(x):
    return 2 * x
'''

HUNG = '''\
import time
from pkg.mod import double


def test_before():
    assert double(1) == 2


def test_hangs():
    while True:
        time.sleep(0.05)


def test_swallows_and_hangs():
    while True:
        try:
            time.sleep(0.05)
        except Exception:
            pass


def test_after():
    assert double(3) == 6
'''

NEVER_ENDS = '''\
from pkg.mod import double


def test_before():
    assert double(1) == 2


def test_never_ends():
    while True:
        try:
            while True:
                pass
        except BaseException:  # swallows every per-test alarm
            pass
'''


def make_repo(root: Path, tests: str) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text(MOD)
    (root / "tests" / "test_mod.py").write_text(tests)
    return root


RECORD = FunctionRecord(id="r/pkg/mod.py::double", repo="r", path="pkg/mod.py", name="double", class_name=None,
                        start_line=1, end_line=2, code=MOD)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    return make_venv(tmp_path_factory.mktemp("venv") / "v")


def test_hung_tests_cost_their_per_test_timeout_and_the_rest_is_carved(tmp_path, venv):
    env = LocalEnvironment(make_repo(tmp_path / "repo", HUNG), venv)
    started = time.monotonic()
    report, kept = carve_repo(env, [RECORD], CarveOptions(per_test_timeout=1, suite_timeout=120))
    elapsed = time.monotonic() - started
    assert elapsed < 30, elapsed  # two hung tests at 1 s each, not the 120 s budget
    assert report["status"] == "ok", report
    suite = report["suite"]
    assert suite["counts"]["passed"] == 2 and suite["counts"]["failed"] == 2 and suite["counts"]["timeouts"] == 2
    assert report["functions"][RECORD.id]["status"] == "ok" and len(kept[RECORD.id]) == 2  # before and after


def test_a_suite_past_its_budget_keeps_what_it_recorded(tmp_path, venv):
    env = LocalEnvironment(make_repo(tmp_path / "repo", NEVER_ENDS), venv)
    started = time.monotonic()
    report, kept = carve_repo(env, [RECORD], CarveOptions(per_test_timeout=1, suite_timeout=4))
    elapsed = time.monotonic() - started
    assert elapsed < 30, elapsed
    assert report["status"] == "suite-timeout", report
    assert report["suite"]["timed_out"] and "budget of 4.0s" in report["suite_error"]
    assert "test_never_ends" in report["suite_error"]
    assert len(kept[RECORD.id]) == 1  # double(1), recorded before the suite hung


def test_genexec_bounds_map_onto_carving_and_progress_is_shown(tmp_path, venv):
    from harness.env_pool import EnvPool  # noqa: F401 - the pool's interface, faked below

    opts = carve_options(timeout_per_task=40, timeout_per_test=1)
    assert (opts.per_test_timeout, opts.suite_timeout) == (1, 40)
    env = LocalEnvironment(make_repo(tmp_path / "repo", HUNG), venv)

    class Pool:
        keep_open = True

        def get(self, repo_id):
            return env

    from r2e.experiment import Experiment
    from r2e.workspace import Workspace

    exp = Experiment(Workspace(tmp_path / "home"), "x")
    lines: list[str] = []
    reports = carve_experiment(exp, [RECORD], Pool(), opts, echo=lines.append)
    assert reports["r"]["status"] == "ok"
    assert lines[0].startswith("carve r: started (1 functions; per-test timeout 1s, suite budget 40s)"), lines
    assert lines[1].startswith("carve r: finished in ") and ": ok;" in lines[1], lines
