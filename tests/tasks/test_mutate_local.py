"""`r2e tasks mutate` end to end on a real repo built with the local backend."""

from __future__ import annotations

import json

import pytest

from harness.tasks.statements import leaks
from tests.conftest import git
from tests.tasks.conftest import ADD_FIX_LINE

ADD = "swap_operator in add"
ARGS = ("--strategies", "swap_operator", "--runs", "2")


def by_function(tasks):
    return {t["function_id"].rsplit("::", 1)[1]: t for t in tasks}


def test_seeded_mutation_gives_exact_f2p_and_p2p(built_local, tmp_path, monkeypatch):
    built_local.reset()
    result = built_local.cli("tasks", "mutate", "-e", "x", *ARGS)
    assert result.exit_code == 0, result.output
    assert "4/4 tests pass on the clean tree" in result.output
    assert "[2/2] swap_operator in is_adult: valid" in result.output
    tasks = by_function(built_local.tasks())
    assert sorted(tasks) == ["add", "is_adult"]  # `double` is not covered: no candidate
    add, adult = tasks["add"], tasks["is_adult"]
    assert json.loads(add["FAIL_TO_PASS"]) == ["tests/test_ops.py::test_add"]
    assert json.loads(add["PASS_TO_PASS"]) == ["tests/test_ops.py::test_add_zero", "tests/test_ops.py::test_adult",
                                               "tests/test_ops.py::test_child"]
    assert json.loads(adult["FAIL_TO_PASS"]) == ["tests/test_ops.py::test_adult", "tests/test_ops.py::test_child"]
    assert json.loads(adult["PASS_TO_PASS"]) == ["tests/test_ops.py::test_add", "tests/test_ops.py::test_add_zero"]
    assert "+    return a - b" in add["bug_patch"] and f"+{ADD_FIX_LINE}" in add["patch"]
    assert add["base_commit"] == git(built_local.checkout, "rev-parse", "HEAD") and add["test_patch"] == ""
    assert add["strategy"] == "swap_operator" and add["seed"] == 0 and add["statement_kind"] == "offline"
    assert add["instance_id"].startswith("local__calc.") and add["flaky_tests"] == []
    build = json.loads((built_local.exp_dir / "build" / "local__calc" / "result.json").read_text())
    assert add["eval_script"] == build["eval_script"] and "pytest" in add["eval_script"]  # the build's of record
    # the offline statement names the API and the failure, never the fix or the tests
    assert "`add`" in add["problem_statement"] and "assert -1 == 5" in add["problem_statement"]
    for task in tasks.values():
        ids = json.loads(task["FAIL_TO_PASS"]) + json.loads(task["PASS_TO_PASS"])
        assert leaks(task["problem_statement"], task["patch"], ids) == []
        assert ADD_FIX_LINE.strip() not in task["problem_statement"] and "test_" not in task["problem_statement"]
    # the repository is clean again
    assert git(built_local.checkout, "status", "--porcelain", "--untracked-files=no") == ""
    summary = built_local.summary()
    assert summary["valid"] == 2 and summary["total"] == 2 and summary["per_strategy"]["swap_operator"]["valid"] == 2
    assert summary["repos"]["local__calc"]["skipped"] == {"not_covered": 1}

    # HF datasets loads tasks.jsonl with SWE-bench's field names
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    exported = built_local.cli("tasks", "export", "-e", "x", "-o", str(tmp_path / "dataset.jsonl"))
    assert exported.exit_code == 0 and "export: 2 task(s)" in exported.output
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "dataset.jsonl"), split="train")
    assert ds.num_rows == 2
    for name in ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement", "FAIL_TO_PASS",
                 "PASS_TO_PASS", "version", "environment_setup_commit", "docker_image", "image_name",
                 "eval_script", "created_at", "bug_patch", "strategy", "seed", "function_id", "flaky_tests",
                 "statement_kind"):
        assert name in ds.column_names, name
    assert sorted(json.loads(s)[0] for s in ds["FAIL_TO_PASS"]) == ["tests/test_ops.py::test_add",
                                                                   "tests/test_ops.py::test_adult"]
    # `r2e export --tasks` writes the same dataset
    again_out = tmp_path / "export-tasks.jsonl"
    exported = built_local.cli("export", "-e", "x", "--tasks", "-o", str(again_out))
    assert exported.exit_code == 0 and "2 task(s)" in exported.output, exported.output
    assert again_out.read_text() == (tmp_path / "dataset.jsonl").read_text()

    # resume: nothing runs again, the same tasks come out
    again = built_local.cli("tasks", "mutate", "-e", "x", *ARGS)
    assert again.exit_code == 0 and "2 candidate(s) already validated, skipped" in again.output
    assert "[1/2]" not in again.output and by_function(built_local.tasks()).keys() == tasks.keys()


def test_equivalent_mutants_are_rejected_with_a_reason(built_local):
    built_local.reset()
    # `return age >= 18` -> `> 18`: no test checks 18 itself, so nothing fails
    result = built_local.cli("tasks", "mutate", "-e", "x", "--strategies", "off_by_one", "--runs", "1")
    assert result.exit_code == 0, result.output
    summary = built_local.summary()
    assert summary["valid"] == 0 and summary["rejections"] == {"no_failing_test": 1}
    assert "rejected: no_failing_test" in result.output and built_local.tasks() == []


def test_bad_input_is_a_one_line_error(built_local, tmp_path):
    built_local.reset()
    result = built_local.cli("tasks", "export", "-e", "x", "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 1 and "tasks.jsonl: missing (run `r2e tasks mutate -e x`" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out.jsonl").exists()
    result = built_local.cli("tasks", "mutate", "-e", "x", "--strategies", "swap_operator,typo")
    assert result.exit_code != 0 and "unknown mutation strategy 'typo'" in result.output
    assert "Traceback" not in result.output
    result = built_local.cli("tasks", "mutate", "-e", "nope")
    assert result.exit_code != 0 and "nope" in result.output and "Traceback" not in result.output


def test_model_statement_that_leaks_the_fix_is_rejected(built_local, llm_server):
    built_local.reset()
    leaky = f"add() is broken\n\nIt should simply `{ADD_FIX_LINE.strip()}` like before."
    clean = "is_adult gives the wrong answer\n\nAdults are reported as minors and children as adults."
    llm_server.script(leaky, clean)  # candidates run in file order: add, then is_adult
    result = built_local.cli("tasks", "mutate", "-e", "x", "--strategies", "swap_operator", "--runs", "1",
                             "--model", "scripted", "--base-url", llm_server.base_url)
    assert result.exit_code == 0, result.output
    assert len(llm_server.requests) == 2
    prompt = llm_server.requests[0]["messages"][-1]["content"]
    assert "Return the sum of a and b." in prompt and "assert -1 == 5" in prompt
    assert ADD_FIX_LINE.strip() not in prompt and "test_add" not in prompt
    tasks = by_function(built_local.tasks())
    assert tasks["add"]["statement_kind"] == "offline"  # the model's text leaked the fix: not used
    assert ADD_FIX_LINE.strip() not in tasks["add"]["problem_statement"]
    assert tasks["is_adult"]["statement_kind"] == "llm" and tasks["is_adult"]["problem_statement"] == clean
    assert built_local.summary()["llm_statements_rejected_for_leaks"] == 1


def test_saved_eval_script_of_record_is_used_and_a_dirty_tree_refused(built_local):
    from installers.environment_of_record import open_environment
    from installers.eval_run import install_eval_script
    from r2e.experiment import Experiment
    from r2e.workspace import Workspace

    built_local.reset()
    exp = Experiment(Workspace(built_local.home), "x")
    result_path = exp.build_result_path("local__calc")
    original = result_path.read_text()
    build = exp.build_result("local__calc")
    with open_environment(build) as env:  # what a build that saves its eval script leaves behind
        script = install_eval_script(env, "python -m pytest tests", runner="pytest", per_test_timeout=20,
                                     suite_timeout=120)
    data = json.loads(original)
    data.update(eval_script=script.text, eval_script_path=script.path, test_command={"command": script.test_command})
    try:
        result_path.write_text(json.dumps(data))
        result = built_local.cli("tasks", "mutate", "-e", "x", "--strategies", "swap_operator", "--runs", "1",
                                 "--max-candidates", "1")
        assert result.exit_code == 0, result.output
        assert [t["eval_script"] for t in built_local.tasks()] == [script.text]

        ops = built_local.checkout / "calc" / "ops.py"
        clean = ops.read_text()
        ops.write_text(clean.replace("a + b", "a * b"))  # a run killed midway would leave this
        try:
            result = built_local.cli("tasks", "mutate", "-e", "x", "--strategies", "swap_operator")
            assert result.exit_code == 1 and "has uncommitted changes" in result.output, result.output
            assert "Traceback" not in result.output
        finally:
            ops.write_text(clean)
    finally:
        result_path.write_text(original)


def test_model_rewrite_with_a_subtle_bug_is_a_strategy(built_local, llm_server):
    built_local.reset()
    rewrite = ('Here you go:\n```python\ndef add(a, b):\n    """Return the sum of a and b."""\n'
               '    return a + b if a < 2 else a * b\n```\n')
    llm_server.script(rewrite, "Sorry, I cannot help with that.", "add() gives wrong sums for some inputs.")
    args = ("tasks", "mutate", "-e", "x", "--strategies", "llm_rewrite", "--runs", "1")
    assert "needs a model" in built_local.cli(*args).output
    result = built_local.cli(*args, "--model", "scripted", "--base-url", llm_server.base_url)
    assert result.exit_code == 0, result.output
    (task,) = built_local.tasks()
    assert task["strategy"] == "llm_rewrite" and task["statement_kind"] == "llm"
    assert json.loads(task["FAIL_TO_PASS"]) == ["tests/test_ops.py::test_add"]
    assert "+    return a + b if a < 2 else a * b" in task["bug_patch"]
    skipped = built_local.summary()["repos"]["local__calc"]["skipped"]
    assert skipped == {"not_covered": 1, "llm_unusable: no code block": 1}
    # resumed: the saved rewrites make the same candidate, nothing is asked again
    asked = len(llm_server.requests)
    again = built_local.cli(*args, "--model", "scripted", "--base-url", llm_server.base_url)
    assert again.exit_code == 0 and len(llm_server.requests) == asked and len(built_local.tasks()) == 1
