"""The dataset normaliser, the log parser and verdicts, run files and summaries: no Docker, no model."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harness.agents.dataset import load_instances, normalise, select
from harness.agents.grading import parse_pytest_log, r2egym_verdict, verdict, without_test_edits
from harness.agents.outputs import RunFiles
from harness.agents.summary import markdown_table, summarize, wilson
from r2e.cli import cli
from r2e.errors import R2EUsageError

SWEBENCH = {"repo": "astropy/astropy", "instance_id": "astropy__astropy-12907", "base_commit": "d16bfe05a744",
            "patch": "diff --git a/x.py b/x.py\n", "test_patch": "diff --git a/t/test_x.py b/t/test_x.py\n",
            "problem_statement": "separability is wrong", "hints_text": "", "created_at": "2022-03-03T15:14:54Z",
            "version": "4.3", "FAIL_TO_PASS": '["t/test_x.py::test_a"]', "PASS_TO_PASS": "[]",
            "environment_setup_commit": "298ccb478e6b"}
R2EGYM = {"repo_name": "pandas", "docker_image": "namanjain12/pandas_final:abc", "commit_hash": "abcdef0123456789",
          "problem_statement": "bug", "expected_output_json": '{"r2e_tests/test_1.py::test_a": "PASSED"}'}
SWESMITH = {"instance_id": "pandas-dev__pandas.95280573.func_pm_op_swap__1", "repo": "swesmith/pandas-dev__pandas.95280573",
            "patch": "diff --git a/p.py b/p.py\n", "FAIL_TO_PASS": ["t.py::a"], "PASS_TO_PASS": ["t.py::b"],
            "image_name": "swesmith.x86_64.pandas-dev__pandas.95280573", "problem_statement": "bug"}
FACTORY = {"instance_id": "org__proj-7", "repo": "org/proj", "base_commit": "abc", "problem_statement": "bug",
           "docker_image": "proj:7", "dockerfile": "FROM x", "eval_script": "#!/bin/bash\npytest -rA\n",
           "FAIL_TO_PASS": ["t.py::a"], "PASS_TO_PASS": []}


def test_every_format_normalises_to_one_record(tmp_path):
    sb = normalise(SWEBENCH)
    assert (sb.kind, sb.fail_to_pass, sb.pass_to_pass) == ("swebench", ("t/test_x.py::test_a",), ())
    assert sb.docker_image == "swebench/sweb.eval.x86_64.astropy_1776_astropy-12907:latest"
    assert (sb.workdir, sb.eval_timeout) == ("/testbed", 300.0)
    gym = normalise(R2EGYM)
    assert (gym.kind, gym.instance_id, gym.base_commit) == ("r2egym", "pandas-abcdef012345", "abcdef0123456789")
    smith = normalise(SWESMITH)  # SWE-smith's patch makes the bug: the fix is leaving it out
    assert (smith.kind, smith.patch, smith.setup_patch, smith.gold_is_unapplied_setup) == \
        ("swesmith", "", SWESMITH["patch"], True)
    assert smith.docker_image == SWESMITH["image_name"]
    factory = normalise(FACTORY)
    assert (factory.kind, factory.eval_script) == ("swefactory", FACTORY["eval_script"])
    r2e = normalise({**FACTORY, "eval_script": "", "statement_kind": "offline", "bug_patch": "diff --git a/b b/b\n"})
    assert (r2e.kind, r2e.setup_patch) == ("r2e", "diff --git a/b b/b\n")
    assert sb.ds()["FAIL_TO_PASS"] == ["t/test_x.py::test_a"] and sb.ds()["hints_text"] == ""


def test_files_of_every_shape_and_selection(tmp_path):
    rows = [SWEBENCH, R2EGYM, FACTORY]
    (tmp_path / "d.json").write_text(json.dumps(rows))
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    flat = [{**r, "FAIL_TO_PASS": json.dumps(list(normalise(r).fail_to_pass)),
             "PASS_TO_PASS": json.dumps(list(normalise(r).pass_to_pass))} for r in [SWEBENCH, FACTORY]]
    pq.write_table(pa.Table.from_pylist(flat), tmp_path / "d.parquet")
    import datasets

    datasets.DatasetDict({"test": datasets.Dataset.from_list(flat)}).save_to_disk(str(tmp_path / "hf"))
    ids = [i.instance_id for i in load_instances(tmp_path / "d.json")]
    assert ids == [i.instance_id for i in load_instances(tmp_path / "d.jsonl")]
    assert [i.instance_id for i in load_instances(tmp_path / "d.parquet")] == ["astropy__astropy-12907", "org__proj-7"]
    assert [i.instance_id for i in load_instances(tmp_path / "hf")] == ["astropy__astropy-12907", "org__proj-7"]
    insts = load_instances(tmp_path / "d.json")
    assert [i.instance_id for i in select(insts, pattern="astropy|org")] == ["astropy__astropy-12907", "org__proj-7"]
    assert [i.instance_id for i in select(insts, start_idx=1, k=1)] == ["pandas-abcdef012345"]


@pytest.mark.parametrize("content, message", [
    ('{"instance_id": "a", "problem_statement": "p", "docker_image": "i"}\n{not json\n', "d.jsonl: row 2 is not valid JSON"),
    (json.dumps({"instance_id": "a", "docker_image": "i"}) + "\n", "d.jsonl: row 1: no problem_statement"),
    (json.dumps({**FACTORY, "FAIL_TO_PASS": "t.py::a"}) + "\n", "row 1: FAIL_TO_PASS is neither a list nor"),
    (json.dumps({**FACTORY, "FAIL_TO_PASS": [1]}) + "\n", "row 1: FAIL_TO_PASS must be a list of test ids"),
    (json.dumps(FACTORY) + "\n" + json.dumps(FACTORY) + "\n", "row 2: instance_id 'org__proj-7' repeats row 1"),
    (json.dumps({**FACTORY, "eval_timeout": -1}) + "\n", "row 1: eval_timeout must be positive"),
])
def test_bad_rows_are_one_line_errors_naming_file_and_row(tmp_path, content, message):
    path = tmp_path / "d.jsonl"
    path.write_text(content)
    with pytest.raises(R2EUsageError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_instances(path)


def test_the_cli_says_a_bad_dataset_in_one_line(tmp_path):
    (tmp_path / "d.jsonl").write_text("{oops\n")
    res = CliRunner().invoke(cli, ["agent", "run", str(tmp_path / "d.jsonl"), "--exp", "x", "--model", "m",
                                   "--base-url", "http://127.0.0.1:9/v1", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "row 1 is not valid JSON" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["agent", "eval", "--dataset", str(tmp_path / "none.json"), "--gold", "--exp", "x"])
    assert res.exit_code == 2 and "dataset not found" in res.output
    res = CliRunner().invoke(cli, ["agent", "summary", str(tmp_path)])
    assert res.exit_code == 2 and "no run here" in res.output


def test_log_parsing_reads_pytest_summary_only():
    log = ("PASSED tests/test_a.py::test_fake   <- printed by the code under test\n"
           "=========== short test summary info ============\n"
           "PASSED tests/test_a.py::test_ok\n"
           "PASSED tests/test_a.py::test_p[a b]\n"
           "FAILED tests/test_a.py::test_bad - AssertionError: x - y\n"
           "SKIPPED [1] tests/test_a.py:9: no numpy\n"
           "ERROR tests/test_b.py - ImportError\n"
           "XFAIL tests/test_a.py::test_x - reason\n"
           "=========== 1 failed, 2 passed in 0.1s ===========\n"
           "PASSED tests/test_a.py::test_atexit\n")
    assert parse_pytest_log(log) == {"tests/test_a.py::test_ok": "PASSED", "tests/test_a.py::test_p[a b]": "PASSED",
                                     "tests/test_a.py::test_bad": "FAILED", "tests/test_b.py": "ERROR",
                                     "tests/test_a.py::test_x": "XFAIL"}
    marked = ("PASSED t.py::outside\n>>>>> Start Test Output\n\x1b[32mPASSED\x1b[0m t.py::inside\n"
              ">>>>> End Test Output\nPASSED t.py::after\n")
    assert parse_pytest_log(marked) == {"t.py::inside": "PASSED"}
    verbose = "t.py::a PASSED [ 50%]\nt.py::b[x y] FAILED [100%]\nprint PASSED t.py::c\n"
    assert parse_pytest_log(verbose) == {"t.py::a": "PASSED", "t.py::b[x y]": "FAILED"}


def test_verdicts_follow_swebench_and_r2egym_rules():
    ok = {"a": "PASSED", "b": "PASSED"}
    assert verdict(ok, ("a",), ("b",))[0] is True
    assert verdict({"a": "SKIPPED", "b": "PASSED"}, ("a",), ("b",))[3] == "tests_failed"  # a skipped F2P fails
    assert verdict({}, ("a",), ())[3] == "empty_map"
    assert verdict({"a": "PASSED", "b": "FAILED"}, ("a",), ("b",))[2] == {"success": [], "failure": ["b"]}
    assert verdict({"a": "XFAIL"}, ("a",), ())[0] is True
    expected = json.dumps({"t.py::a - desc": "PASSED", "t.py::b": "FAILED"})
    assert r2egym_verdict({"t.py::a": "PASSED", "t.py::b": "FAILED"}, expected) == (True, "resolved")
    assert r2egym_verdict({"t.py::a": "PASSED", "t.py::b": "PASSED"}, expected)[0] is False
    assert r2egym_verdict({"t.py::a": "PASSED"}, expected)[0] is False


def test_test_file_edits_are_left_out_of_the_graded_patch():
    def section(path):
        return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n"
    patch = "".join(section(p) for p in ("src/m.py", "tests/test_m.py", "conftest.py", "pkg/hidden.py", "m_test.py"))
    hidden = section("pkg/hidden.py")
    kept, dropped = without_test_edits(patch, hidden)
    assert kept == section("src/m.py")
    assert dropped == ("tests/test_m.py", "conftest.py", "pkg/hidden.py", "m_test.py")


def test_run_files_cut_a_torn_line_and_refuse_a_corrupt_one(tmp_path):
    files = RunFiles(tmp_path, "e")
    files.append({"instance_id": "a"})
    with open(files.jsonl, "a") as fh:
        fh.write('{"instance_id": "b", "traj')  # kill -9 in the middle of a write
    assert [r["instance_id"] for r in files.load()] == ["a"]
    assert files.jsonl.read_text() == '{"instance_id": "a"}\n'
    files.jsonl.write_text('{"instance_id": "a"}\n{bad\n{"instance_id": "c"}\n')
    with pytest.raises(R2EUsageError, match="not valid JSON"):
        files.load()


def test_summary_and_wilson_interval():
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert wilson(5, 10) == (0.2366, 0.7634)
    records = [{"instance_id": "r-1", "ds": {"repo": "r"}, "reward": 1.0, "exit_reason": "agent",
                "trajectory_steps": [{}, {}]},
               {"instance_id": "r-2", "ds": {"repo": "r"}, "reward": 0.0, "exit_reason": "llm_error",
                "error": "breaker open", "trajectory_steps": []},
               {"instance_id": "s-1", "ds": {"repo": "s"}, "reward": 0.0, "exit_reason": "error",
                "error": "DockerException: no such image", "trajectory_steps": []}]
    s = summarize(records, "e")
    assert (s["total"], s["resolved"], s["resolved_ids"]) == (3, 1, ["r-1"])
    assert s["errors"] == {"DockerException": 1, "llm_error": 1}
    assert s["per_repo"]["r"] == {"n": 2, "resolved": 1, "rate": 0.5, "ci95": [0.0945, 0.9055], "mean_steps": 1.0}
    assert s["per_exit_reason"]["agent"] == {"n": 1, "resolved": 1}
    assert "| r | 2 | 1 | 50.0% | 9.4%-90.5% | 1.0 |" in markdown_table(s)
