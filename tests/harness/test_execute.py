"""`r2e execute` over a real LocalEnvironment, and the uncovered-branch annotation."""

from __future__ import annotations

import json

import harness.env_pool
from harness.annotate import annotate_uncovered
from r2e.experiment import function_folder
from r2e.stage_records import Coverage, FunctionRecord
from tests.harness.fixtures import MOD, run_runner, make_fixture_repo
from tests.harness.test_runner import CLASSIFY_TEST

HANGING_TEST = """
import unittest
from pkg.mod import slow, reference_slow

class T(unittest.TestCase):
    def test_hangs(self):
        self.assertEqual(slow(-1), reference_slow(-1))
"""


def write_test(home, exp, record, code):
    folder = home / "experiments" / exp / "tests" / function_folder(record.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test.py").write_text(code)
    return folder


def test_execute_per_function_folders_one_env_per_repo_and_resume(r2e_home, cli, fixture_exp, monkeypatch):
    repo_id, recs = fixture_exp(keep=lambda r: r.name in ("classify", "total", "slow", "noisy"))
    good = write_test(r2e_home, "x", recs["classify"], CLASSIFY_TEST.format(inputs="[5, -3]"))
    bad = write_test(r2e_home, "x", recs["total"], "from pkg.mod import total\n\ndef test_wrong():\n    assert total([1]) == 2\n")
    hang = write_test(r2e_home, "x", recs["slow"], HANGING_TEST)
    opened = []
    real_open = harness.env_pool.open_harness_environment
    monkeypatch.setattr(harness.env_pool, "open_harness_environment",
                        lambda *a: opened.append(a[1].id) or real_open(*a))

    result = cli("execute", "-e", "x", "--backend", "local", "-j", "2", "--timeout-per-test", "1")
    assert result.exit_code == 0, result.output  # invalid tests are results, not crashes
    assert opened == [repo_id]  # one environment for the repo, not one per function
    good_result = json.loads((good / "result.json").read_text())
    assert good_result["status"] == "valid" and good_result["valid"]
    assert good_result["coverage"]["covered_branches"] == 3 and good_result["coverage"]["num_branches"] == 4
    bad_result = json.loads((bad / "result.json").read_text())
    assert bad_result["status"] == "invalid" and bad_result["counts"]["failed"] == 1
    hang_result = json.loads((hang / "result.json").read_text())
    assert hang_result["tests"][0]["outcome"] == "timeout" and not hang_result["valid"]
    assert "no-test" in result.output  # noisy has no test: reported, not an error

    # resumable: unchanged tests are not run again; a changed test is
    before = (good / "result.json").stat().st_mtime_ns
    (bad / "test.py").write_text("from pkg.mod import total, reference_total\n\ndef test_ok():\n"
                                 "    assert total([1, 2]) == reference_total([1, 2])\n")
    again = cli("execute", "-e", "x", "--backend", "local", "--timeout-per-test", "1")
    assert again.exit_code == 0, again.output
    assert (good / "result.json").stat().st_mtime_ns == before
    assert "reused" in again.output
    assert json.loads((bad / "result.json").read_text())["status"] == "valid"


def test_execute_reports_an_environment_failure_per_function(r2e_home, cli, fixture_exp):
    _, recs = fixture_exp(keep=lambda r: r.name == "classify")
    write_test(r2e_home, "x", recs["classify"], CLASSIFY_TEST.format(inputs="[1]"))
    result = cli("execute", "-e", "x")  # docker backend without a built image
    assert result.exit_code == 1
    assert "crashed" in result.output and "r2e build" in result.output


def test_execute_bad_experiment_is_one_line_error(r2e_home, cli):
    result = cli("execute", "-e", "nope", "--backend", "local")
    assert result.exit_code == 1
    assert "experiment 'nope' not found" in result.output


def test_annotation_marks_the_right_lines(tmp_path):
    repo = make_fixture_repo(tmp_path / "repo")
    result = run_runner(tmp_path, repo, "classify", CLASSIFY_TEST.format(inputs="[5]"))
    lines = MOD.splitlines()
    record = FunctionRecord(id="r/pkg/mod.py::classify", repo="r", path="pkg/mod.py", name="classify",
                            class_name=None, start_line=9, end_line=15, code="\n".join(lines[8:15]) + "\n")
    text = annotate_uncovered(record, Coverage.from_dict(result["coverage"]))
    by_line = {int(row.split("|")[0]): row for row in text.splitlines()}
    assert set(by_line) == set(range(9, 16))
    for n, row in by_line.items():  # each number is the file's own line
        assert row.split(" | ", 1)[1].startswith(lines[n - 1]), row
    assert "NOT COVERED: never went to line 13" in by_line[11]
    assert by_line[11].split(" | ", 1)[1].startswith("    if x > 0:")
    assert "NOT EXECUTED" in by_line[13] and "NOT EXECUTED" in by_line[15]
    assert "NOT" not in by_line[12] and "NOT" not in by_line[9]


def test_generate_offline_then_execute_as_real_processes(r2e_home, fixture_exp, run_r2e):
    fixture_exp(keep=lambda r: r.name in ("classify", "add"))
    gen = run_r2e("generate", "-e", "x", "--generator", "offline")
    assert gen.returncode == 0, gen.stderr
    assert "2 written" in gen.stdout
    ex = run_r2e("execute", "-e", "x", "--backend", "local", "-j", "2")
    assert ex.returncode == 0, ex.stdout + ex.stderr
    assert ex.stdout.count("valid ") == 2 and "execute: 2 valid" in ex.stdout
    bad = run_r2e("execute", "-e", "x", "--backend", "nowhere")
    assert bad.returncode == 2 and "nowhere" in bad.stderr


def test_execution_brings_coverage_into_a_venv_without_it(tmp_path):
    import subprocess
    import sys

    from harness.execute import ExecOptions, execute_harness
    from installers.local_env import LocalEnvironment

    repo = make_fixture_repo(tmp_path / "repo")
    venv = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = LocalEnvironment(repo, venv)
    assert not env.execute(f"{env.python} -c 'import coverage'").ok
    lines = MOD.splitlines()
    record = FunctionRecord(id="r/pkg/mod.py::classify", repo="r", path="pkg/mod.py", name="classify",
                            class_name=None, start_line=9, end_line=15, code="\n".join(lines[8:15]) + "\n")
    result = execute_harness(env, record, CLASSIFY_TEST.format(inputs="[5, -3]"), ExecOptions(run_timeout=60))
    assert result.status == "valid", result
    assert result.coverage.source == "coverage-functions" and result.coverage.covered_branches == 3


def test_several_repos_in_parallel_each_env_opened_once_and_closed(r2e_home, cli, tmp_path, monkeypatch):
    from harness.generators import OfflineGenerator
    from tests.harness.extracted import extract

    for name in ("alpha", "beta", "gamma"):
        src = make_fixture_repo(tmp_path / "srcs" / name)
        assert cli("setup", "-e", "x", "-l", str(src)).exit_code == 0
    for record in extract(r2e_home, "x", ["pkg/mod.py"], keep=lambda r: r.name in ("classify", "total")):
        write_test(r2e_home, "x", record, OfflineGenerator().generate(record, None, 1).tests[0])
    manifest = json.loads((r2e_home / "experiments" / "x" / "manifest.json").read_text())
    events = []
    real_open = harness.env_pool.open_harness_environment

    def tracking_open(*args):
        env = real_open(*args)
        repo_id, real_close = args[1].id, env.close
        events.append(("open", repo_id))
        env.close = lambda: (events.append(("close", repo_id)), real_close())
        return env

    monkeypatch.setattr(harness.env_pool, "open_harness_environment", tracking_open)
    result = cli("execute", "-e", "x", "--backend", "local", "-j", "3")
    assert result.exit_code == 0, result.output
    assert result.output.count("valid ") == 6
    repo_ids = sorted(r["id"] for r in manifest["repos"])
    assert sorted(e[1] for e in events if e[0] == "open") == repo_ids
    assert sorted(e[1] for e in events if e[0] == "close") == repo_ids
