"""The rules without Docker: input rows, FROM substitution, clone rewrites, log parsing and grading."""

from __future__ import annotations

import json

import pytest

from harness.normalize import dockerfile as df
from harness.normalize.instances import load_instances
from harness.normalize.records import Instance
from harness.normalize.repair import parse_reply
from harness.normalize.testlog import judge_patched, judge_plain, parse_log, parse_run
from r2e.errors import R2EUsageError

ROW = {"instance_id": "a-1", "repo": "o/a", "base_commit": "abc", "dockerfile": "FROM x\n", "eval_script": "pytest"}


def test_rows_bad_ones_fail_alone_and_json_encoded_lists_are_read(tmp_path):
    path = tmp_path / "in.jsonl"
    rows = [ROW, {**ROW, "instance_id": "a-2", "FAIL_TO_PASS": '["t::a"]', "PASS_TO_PASS": ["t::b"]},
            {"instance_id": "a-3", "repo": "o/a"}, [1], {**ROW, "instance_id": "a-4", "FAIL_TO_PASS": "t::a"},
            {**ROW, "instance_id": "a-5", "eval_script": None, "test_cmd": "pytest tests"}, ROW]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    items = load_instances(path)
    assert [type(i).__name__ for i in items] == ["Instance", "Instance", "BadRow", "BadRow", "BadRow", "Instance", "BadRow"]
    assert items[1].fail_to_pass == ("t::a",) and items[1].pass_to_pass == ("t::b",)
    assert "base_commit" in items[2].reason and "duplicate" in items[6].reason
    assert "pytest tests -rA" in items[5].eval_script


@pytest.mark.parametrize("text,message", [("", "empty"), ("[{", "not valid JSON"), ("{}\n{", "line 2")])
def test_unreadable_input_is_one_line(tmp_path, text, message):
    path = tmp_path / "in.json"
    path.write_text(text)
    with pytest.raises(R2EUsageError, match=message):
        load_instances(path)


def test_base_rule_maps_python_and_distributions_to_the_nearest_local_base():
    assert df.base_candidates("python:3.11-slim")[:2] == ["r2e-base:py3.11-slim", "r2e-base:py3.11"]
    assert df.base_candidates("python:3.10")[0] == "r2e-base:py3.11"
    assert df.base_candidates("docker.io/library/python:3.8-bullseye")[0] == "r2e-base:py3.9"
    assert df.base_candidates("ubuntu:24.04")[0] == "r2e-base:py3.13"
    assert df.base_candidates("debian:bullseye-slim")[0] == "r2e-base:py3.9-slim"
    assert df.base_candidates("continuumio/miniconda3")[0] == "r2e-base:py3.11"


def test_clone_of_the_repo_becomes_a_copy_and_other_clones_stay():
    text = ("FROM python:3.9 AS build\nRUN apt-get update && \\\n  git clone --depth 1 https://github.com/o/a.git /testbed"
            " && cd /testbed && git checkout abc && pip install -e .\nRUN git clone https://github.com/x/dep /dep\n"
            "FROM build\n")
    out, notes, dests = df.rewrite_clones(text, "o/a")
    assert "COPY r2e-repo/ /testbed/\nRUN cd /testbed && pip install -e ." in out
    assert "git clone https://github.com/x/dep /dep" in out and dests == ["/testbed"]
    assert "1 checkout/fetch" in notes[0]
    assert df.from_images(out) == ["python:3.9"]
    assert df.substitute_from(out, "python:3.9", "r2e-base:py3.9").startswith("FROM r2e-base:py3.9 AS build\n")


def test_log_statuses_and_report_json():
    log = ("\x1b[32mPASSED\x1b[0m tests/a.py::t1\nFAILED tests/a.py::t2 - AssertionError: x\n"
           "tests/b.py::t3 PASSED\nSKIPPED [1] tests/b.py:3: no\nERROR tests/c.py\nXPASS tests/a.py::t4\n")
    assert parse_log(log) == {"tests/a.py::t1": "PASSED", "tests/a.py::t2": "FAILED", "tests/b.py::t3": "PASSED",
                              "tests/c.py": "ERROR", "tests/a.py::t4": "PASSED"}
    report = json.dumps({"tests": {"tests/a.py::t1": "FAILED"}, "runner": "pytest"})
    assert parse_run(log, report) == {"tests/a.py::t1": "FAILED"}


def test_grading_gold_empty_and_flaky():
    gold = [{"f": "PASSED", "p": "PASSED", "z": "FAILED"}, {"f": "PASSED", "p": "PASSED", "z": "PASSED"}]
    empty = [{"f": "FAILED", "p": "PASSED"}, {"f": "FAILED", "p": "PASSED"}]
    v = judge_patched(gold, empty, ("f",), ("p", "z"))
    assert (v.reason, v.flaky, v.pass_to_pass) == (None, ("z",), ("p",))
    assert judge_patched(gold, [{"f": "PASSED", "p": "PASSED"}] * 2, ("f",), ("p",)).reason == "empty_passes"
    assert judge_patched([{"f": "FAILED"}] * 2, empty, ("f",), ()).reason == "gold_fails"
    assert judge_patched([{"f": "PASSED"}, {"f": "FAILED"}], empty, ("f",), ()).reason == "all_flaky"
    derived = judge_patched(gold[1:] * 2, empty, None, None)
    assert (derived.fail_to_pass, derived.pass_to_pass, derived.derived) == (("f", "z"), ("p",), True)
    assert judge_plain([{}, {}], None, None).reason == "eval_no_tests"
    assert judge_plain([{"p": "FAILED"}] * 2, None, ("p",)).reason == "p2p_fails"
    skipped = [{"f": "PASSED", "p": "SKIPPED"}] * 2  # a skipped PASS_TO_PASS is fine, a skipped FAIL_TO_PASS is not
    assert judge_patched(skipped, empty, ("f",), ("p",)).reason is None
    assert judge_patched([{"f": "SKIPPED"}] * 2, empty, ("f",), ()).reason == "gold_fails"


def test_model_reply_is_one_fenced_block():
    assert parse_reply("x\n```dockerfile\nFROM a\nRUN b\n```") == ("dockerfile", "FROM a\nRUN b\n")
    assert parse_reply("```bash\ncd /testbed\npytest\n```")[0] == "eval_script"
    assert parse_reply("```\nFROM a\n```")[0] == "dockerfile"
    assert parse_reply("no block") is None


def test_cli_bad_input_is_one_line(cli, tmp_path, monkeypatch):
    result = cli("normalize", str(tmp_path / "missing.json"), "--output", str(tmp_path / "o"))
    assert result.exit_code == 2 and "no such file" in result.output and "Traceback" not in result.output
    bad = tmp_path / "bad.json"
    bad.write_text("[1,")
    result = cli("normalize", str(bad), "--output", str(tmp_path / "o"), "--no-llm")
    assert result.exit_code == 2 and "not valid JSON" in result.output
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    result = cli("normalize", str(bad), "--output", str(tmp_path / "o"), "--model", "m")
    assert result.exit_code == 2 and "OPENAI_API_KEY is not set" in result.output and "Traceback" not in result.output


class _NoImages:
    """An engine with no image at all and no registry."""

    client = None

    def available(self, name, pull=True):
        return False


def test_no_base_to_substitute_fails_with_its_reason(tmp_path):
    from harness.normalize.pipeline import Counter, Normalizer, Settings, image_repo

    settings = Settings(output=tmp_path)
    for dockerfile, image, words in (("FROM python:3.12\n", None, "no R2E base"),
                                     (None, "swebench/sweb.eval.x86_64.a:latest", "docker_image")):
        inst = Instance("o__a-1", "o/a", "abc", dockerfile, image, "pytest", raw={"instance_id": "o__a-1"})
        result = Normalizer(inst, settings, _NoImages(), Counter()).run()
        assert (result["status"], result["reason"]) == ("failed", "base_unavailable") and words in result["detail"]
    assert json.loads(next(tmp_path.glob("instances/o_a-1-*/result.json")).read_text())["reason"] == "base_unavailable"
    assert image_repo("Django__Django-1.2_x") == "r2e-normalize-django-django-1-2-x"


def test_model_edits_keep_the_deterministic_fixes(tmp_path):
    from harness.normalize.pipeline import Counter, Normalizer, Settings

    class _Here(_NoImages):
        def available(self, name, pull=True):
            return name == "r2e-base:py3.11-slim"

    inst = Instance("o__a-1", "o/a", "abc", "FROM r2e-base:py3.11-slim\n", None, "cd /testbed/pkg && pytest",
                    raw={"instance_id": "o__a-1"})
    norm = Normalizer(inst, Settings(output=tmp_path), _Here(), Counter())
    norm.work = tmp_path
    edited = "FROM r2e-base:py3.11-slim\nCOPY r2e-repo/ /testbed/pkg/\nRUN echo model\n"
    state = norm._prepare(edited, inst.eval_script, [], tmp_path)
    assert state.moves and state.eval_script == "cd /testbed && pytest"  # the copy's place is seen in the edit
    again = norm._apply_edit(state, ("eval_script", "cd /testbed && pytest -x\n"), 1)
    assert again.dockerfile == state.dockerfile and again.moves == state.moves
    redo = norm._apply_edit(state, ("dockerfile", state.dockerfile.replace("RUN echo model", "RUN echo fixed")), 2)
    assert redo.dockerfile.count(df.TAIL_MARK) == 1 and "RUN echo fixed" in redo.dockerfile
    at_testbed = norm._prepare("FROM r2e-base:py3.11-slim\nCOPY r2e-repo/ /testbed/\n", "pytest", [], tmp_path)
    assert at_testbed.moves == []


def test_bad_rows_fail_alone_with_their_reason(cli, tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"instance_id": "x-1", "repo": "o/x"}) + "\n" + json.dumps({**ROW, "eval_script": 3}) + "\n")
    result = cli("normalize", str(path), "--output", str(tmp_path / "out"), "--no-llm")
    assert result.exit_code == 1 and "x-1: missing or empty 'base_commit'" in result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["total"], summary["failed"], summary["builds"]) == (2, 2, 0)
    assert {f["reason"] for f in summary["failed_instances"]} == {"invalid_instance"}
    failed = json.loads((tmp_path / "out" / "rows_failed.json").read_text())
    assert [f["failure_reason"] for f in failed] == ["invalid_instance"] * 2 and failed[0]["repo"] == "o/x"


def test_an_exported_repository_cannot_make_host_git_run_its_commands(tmp_path):
    from harness.normalize import gitcheck
    from tests.conftest import git, make_git_repo

    tree = tmp_path / "testbed"
    sha = make_git_repo(tree, {"a.txt": "x\n", ".gitattributes": "*.txt filter=evil\n"})
    canary = tmp_path / "ran"
    git(tree, "config", "core.fsmonitor", f"touch {canary}; false")
    git(tree, "config", "filter.evil.clean", f"touch {canary}; cat")
    git(tree, "config", "core.worktree", "/")
    (tree / "a.txt").write_text("changed\n")
    gitcheck.defuse(tree)
    assert gitcheck.head(tree) == sha and gitcheck.status(tree) == [" M a.txt"]
    assert not canary.exists()
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "linked"
    link.mkdir()
    (link / ".git").symlink_to(tmp_path / "elsewhere")
    assert not gitcheck.is_repo(link)
