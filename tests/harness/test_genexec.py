"""The genexec loop against a scripted OpenAI-compatible server over the real runner in a local venv."""

from __future__ import annotations

import json
import time

import pytest

from tests.harness.test_runner import CLASSIFY_TEST

BROKEN = "```python\nfrom pkg.mod import classify, reference_classify\n\ndef test_guess():\n    assert classify(5) == 11\n```"
LOW = f"Here you go:\n```python\n{CLASSIFY_TEST.format(inputs='[5]')}```"
GOOD = f"```python\n{CLASSIFY_TEST.format(inputs='[5, -3, 0]')}```"
LOOP = ("genexec", "-e", "x", "--backend", "local", "--model", "scripted", "--timeout-per-test", "5")


def read_doc(home):
    return json.loads((home / "experiments" / "x" / "genexec.json").read_text())


def assert_roundtrips(home):
    """genexec.json read back as a GenexecRun and written again is the same file, byte for byte."""
    from r2e.experiment import Experiment
    from r2e.stage_records import GenexecRun
    from r2e.workspace import Workspace

    text = (home / "experiments" / "x" / "genexec.json").read_text()
    run = Experiment(Workspace(home), "x").genexec_doc(required=True)
    assert isinstance(run, GenexecRun) and run.summary is not None
    assert json.dumps(run.to_dict(), indent=2) + "\n" == text
    assert GenexecRun.from_dict(run.to_dict()) == run


def test_loop_broken_then_low_coverage_then_good(r2e_home, cli, fixture_exp, llm_server):
    fixture_exp(keep=lambda r: r.name == "classify")
    llm_server.script(BROKEN, LOW, GOOD)
    result = cli(*LOOP, "--base-url", llm_server.base_url, "-k", "5", "--min-cov", "1.0", "--min-valid", "1.0",
                 "--save-chat")
    assert result.exit_code == 0, result.output
    doc = read_doc(r2e_home)
    (entry,) = doc["functions"].values()
    history = entry["history"]
    assert [h["status"] for h in history] == ["invalid", "valid", "valid"]
    assert [h["covered_branches"] for h in history] == [None, 1, 4] or [h["covered_branches"] for h in history][1:] == [1, 4]
    assert entry["valid"] and entry["done"] and entry["branch_coverage"] == 1.0
    assert "[5, -3, 0]" in entry["test"]
    assert len(doc["rounds"]) == 3 and doc["rounds"][-1]["done_fraction"] == 1.0
    assert "done fraction reached" in doc["stop_reason"]
    assert len(llm_server.requests) == 3  # stopped as soon as done: no 4th request

    # round 2 got the trimmed errors of the broken test; round 3 the annotated uncovered branches
    round2 = llm_server.requests[1]["messages"]
    assert round2[-2]["role"] == "assistant" and "classify(5) == 11" in round2[-2]["content"]
    assert "not valid" in round2[-1]["content"] and "AssertionError" in round2[-1]["content"]
    round3 = llm_server.requests[2]["messages"][-1]["content"]
    assert "covers only 1 of 4 branches" in round3
    assert "11 |     if x > 0:  # NOT COVERED: never went to line 13" in round3
    # the prompt carries the rules, the function and starter code importing its reference
    first = llm_server.requests[0]["messages"][1]["content"]
    assert "from pkg.mod import classify, reference_classify" in first and "assertRaises" in first
    # token usage per function and in total, as the server reported it
    assert entry["tokens"]["completion"] == sum(len(t.split()) for t in (BROKEN, LOW, GOOD))
    assert doc["summary"]["completion_tokens"] == entry["tokens"]["completion"]
    assert entry["tokens"]["prompt"] > 0
    folder = r2e_home / "experiments" / "x" / "tests" / entry["folder"]
    assert (folder / "test.py").read_text() == entry["test"]
    assert_roundtrips(r2e_home)
    assert json.loads((folder / "result.json").read_text())["valid"]
    assert (folder / "chat_round3.json").exists()
    assert "round 3:" in result.output and "done 1/1 (100%)" in result.output


def test_early_stop_keeps_a_final_result_for_every_function(r2e_home, cli, fixture_exp, llm_server):
    fixture_exp(keep=lambda r: r.name in ("classify", "total"))

    def reply(body):
        prompt = body["messages"][1]["content"]
        return GOOD if "`classify`" in prompt else "I cannot write this test."

    llm_server.default = reply
    result = cli(*LOOP, "--base-url", llm_server.base_url, "-k", "3", "--min-valid", "0.5")
    assert result.exit_code == 0, result.output  # stopping early never crashes
    doc = read_doc(r2e_home)
    assert len(doc["rounds"]) == 1 and doc["rounds"][0]["done_fraction"] == 0.5
    statuses = {fid.rsplit("::", 1)[1]: f["status"] for fid, f in doc["functions"].items()}
    assert statuses == {"classify": "valid", "total": "invalid"}
    total = next(f for fid, f in doc["functions"].items() if fid.endswith("::total"))
    assert not total["valid"] and total["history"] and total["history"][0]["reasons"]


def test_failed_generation_and_crashes_stay_in_the_worklist(r2e_home, cli, fixture_exp, llm_server):
    fixture_exp(keep=lambda r: r.name == "classify")
    llm_server.script({"status": 400, "message": "bad request"}, GOOD)
    result = cli(*LOOP, "--base-url", llm_server.base_url, "-k", "3", "--min-cov", "1.0")
    assert result.exit_code == 0, result.output
    (entry,) = read_doc(r2e_home)["functions"].values()
    assert [h["status"] for h in entry["history"]] == ["generation-failed", "valid"]
    assert entry["done"]


def test_no_cap_on_functions_and_done_fraction_over_all(r2e_home, cli, fixture_exp):
    # the offline generator, 18 functions (more than the original's debug cap of 15)
    many = "".join(f"def f{i}(x):\n    \"\"\"Doc.\"\"\"\n    if x > {i}:\n        return x - {i}\n    return {i}\n\n\n"
                   for i in range(12))
    repo_id, recs = fixture_exp(extra={"pkg/many.py": many})
    recs = list(recs.values())
    assert len(recs) == 18
    result = cli("genexec", "-e", "x", "--backend", "local", "-k", "2", "--min-valid", "1.0",
                 "--timeout-per-test", "1", "--timeout-per-task", "40", "-j", "2")
    doc = read_doc(r2e_home)
    assert set(doc["functions"]) == {r.id for r in recs}
    assert doc["generator"] in ("offline", "carve+offline")  # auto carves first, offline for the rest
    done = sum(f["done"] for f in doc["functions"].values())
    assert doc["rounds"][-1]["done_fraction"] == round(done / len(recs), 4)
    slow = next(f for fid, f in doc["functions"].items() if fid.endswith("::slow"))
    assert not slow["valid"]  # slow(-1) never finishes: a timeout, never done, still has a result
    assert len(doc["rounds"]) == 2  # not everything can be done, so all k rounds ran
    assert result.exit_code == 0, result.output
    assert_roundtrips(r2e_home)  # valid, invalid, timed-out and carved entries


def test_auth_error_stops_with_one_line_and_keeps_results(r2e_home, cli, fixture_exp, llm_server):
    fixture_exp(keep=lambda r: r.name == "classify")
    llm_server.script({"status": 401, "message": "invalid api key"})
    result = cli(*LOOP, "--base-url", llm_server.base_url)
    assert result.exit_code == 1
    assert "authentication failed" in result.output
    assert len(llm_server.requests) == 1  # no retry on auth errors
    (entry,) = read_doc(r2e_home)["functions"].values()
    assert entry["history"][0]["status"] == "generation-failed"


def test_generate_writes_tests_and_usage(r2e_home, cli, fixture_exp, llm_server):
    fixture_exp(keep=lambda r: r.name in ("classify", "total"))
    llm_server.default = lambda body: GOOD
    result = cli("generate", "-e", "x", "--model", "scripted", "--base-url", llm_server.base_url, "-j", "2",
                 "--n", "2")
    assert result.exit_code == 0, result.output
    tests = sorted((r2e_home / "experiments" / "x" / "tests").iterdir())
    assert len(tests) == 2
    for folder in tests:
        assert "reference_classify" in (folder / "test.py").read_text()
        assert (folder / "test_sample1.py").exists()
        usage = json.loads((folder / "generation.json").read_text())
        assert usage["samples"] == 2 and usage["completion_tokens"] > 0
    assert all(r["n"] == 2 for r in llm_server.requests)
    # the cache answers a repeated request; --overwrite regenerates
    again = cli("generate", "-e", "x", "--model", "scripted", "--base-url", llm_server.base_url, "--n", "2",
                "--overwrite")
    assert again.exit_code == 0 and len(llm_server.requests) == 2
    fresh = cli("generate", "-e", "x", "--model", "scripted", "--base-url", llm_server.base_url, "--n", "2",
                "--overwrite", "--no-cache")
    assert fresh.exit_code == 0 and len(llm_server.requests) == 4


def test_generate_llm_without_model_is_a_usage_error(r2e_home, cli, fixture_exp, llm_server):
    fixture_exp(keep=lambda r: r.name == "classify")
    result = cli("generate", "-e", "x", "--generator", "llm")
    assert result.exit_code == 2 and "--model" in result.output


@pytest.mark.parametrize("bad", [("--min-cov", "1.5"), ("-k", "0")])
def test_bad_options_exit_2(r2e_home, cli, bad):
    assert cli("genexec", "-e", "x", *bad).exit_code == 2


def test_environment_failure_exits_1_with_the_reason_and_results(r2e_home, cli, fixture_exp):
    fixture_exp(keep=lambda r: r.name in ("classify", "total"))
    result = cli("genexec", "-e", "x", "-k", "2")  # docker by default, and nothing was built
    assert result.exit_code == 1
    assert "2 function(s) without an executed test" in result.output and "r2e build" in result.output
    doc = read_doc(r2e_home)
    assert len(doc["rounds"]) == 2  # crashed functions stayed in the worklist
    assert all(f["status"] == "crashed" and len(f["history"]) == 2 for f in doc["functions"].values())


def test_resume_keeps_done_functions_and_continues_rounds(r2e_home, cli, fixture_exp, llm_server):
    fixture_exp(keep=lambda r: r.name in ("classify", "total"))

    def reply(body):
        prompt = body["messages"][1]["content"]
        return GOOD if "`classify`" in prompt else "no code here"

    llm_server.default = reply
    first = cli(*LOOP, "--base-url", llm_server.base_url, "-k", "1", "--min-valid", "1.0")
    assert first.exit_code == 0, first.output
    asked = len(llm_server.requests)
    assert asked == 2
    good_total = ("```python\nfrom pkg.mod import total, reference_total\n\ndef test_t():\n"
                  "    for v, cap in [([1, 2], None), ([5, 5], 7)]:\n"
                  "        assert total(v, cap) == reference_total(v, cap)\n```")
    llm_server.default = lambda body: good_total
    again = cli(*LOOP, "--base-url", llm_server.base_url, "-k", "2", "--min-valid", "1.0", "--resume")
    assert again.exit_code == 0, again.output
    assert len(llm_server.requests) == asked + 1  # only `total` was asked again, once
    resumed = llm_server.requests[-1]["messages"]
    assert "not valid" in resumed[-1]["content"]  # feedback on the previous run's test
    doc = read_doc(r2e_home)
    assert [r["round"] for r in doc["rounds"]] == [1, 2]
    total = next(f for fid, f in doc["functions"].items() if fid.endswith("::total"))
    assert [h["round"] for h in total["history"]] == [1, 2] and total["done"]
    classify = next(f for fid, f in doc["functions"].items() if fid.endswith("::classify"))
    assert classify["done"] and [h["round"] for h in classify["history"]] == [1]


def test_a_malformed_reply_or_a_failing_generator_is_a_generation_failure_not_a_crash(r2e_home, fixture_exp,
                                                                                    llm_server):
    from harness.generators import LLMGenerator
    from harness.genexec import LoopOptions, run_genexec
    from r2e.experiment import Experiment
    from r2e.llm import LLMClient, LLMConfig
    from r2e.workspace import Workspace

    _, recs = fixture_exp(keep=lambda r: r.name in ("classify", "total"))
    exp = Experiment(Workspace(r2e_home), "x")
    config = LLMConfig(model="scripted", base_url=llm_server.base_url, max_retries=0, max_failures=0)
    gen = LLMGenerator(LLMClient(config))
    real_generate = gen.generate

    def generate(record, previous, round_no):
        if record.name == "total":
            raise ValueError("the generator choked on a reply")
        return real_generate(record, previous, round_no)

    gen.generate = generate
    truncated_json = '{"choices": [{"message": {"content": "```python\\nimport'
    llm_server.script({"body": truncated_json, "content_type": "application/json"}, GOOD)
    opts = LoopOptions(k=2, min_cov=1.0, backend="local")
    doc = run_genexec(exp, list(recs.values()), gen, opts, echo=lambda line: None).to_dict()
    classify = doc["functions"][recs["classify"].id]
    assert [h["status"] for h in classify["history"]] == ["generation-failed", "valid"]
    assert "not JSON" in classify["history"][0]["reasons"][0] or "unreadable" in classify["history"][0]["reasons"][0]
    total = doc["functions"][recs["total"].id]
    assert total["status"] == "generation-failed" and len(total["history"]) == 2
    assert "ValueError: the generator choked" in total["history"][0]["reasons"][0]
    assert doc["rounds"][0]["generation_failed"] == 2 and doc["rounds"][0]["crashed_or_timeout"] == 0


def test_messy_replies_are_parsed_or_rejected_with_a_reason_without_running(r2e_home, cli, fixture_exp, llm_server):
    fixture_exp(keep=lambda r: r.name in ("classify", "total", "noisy"))
    unclosed = "Sure!\n```python\n" + CLASSIFY_TEST.format(inputs="[5, -3, 0]")  # cut before the closing fence

    def reply(body):
        prompt = body["messages"][1]["content"]
        if "`classify`" in prompt:
            return {"text": unclosed, "finish_reason": "length"}
        if "`total`" in prompt:
            return "I would test total by calling it with lists of numbers and comparing."
        return {"text": "```python\ndef test_noisy(:\n", "finish_reason": "length"}

    llm_server.default = reply
    result = cli(*LOOP, "--base-url", llm_server.base_url, "-k", "2", "--min-valid", "1.0", "--min-cov", "0.5")
    assert result.exit_code == 0, result.output
    doc = read_doc(r2e_home)
    by_name = {fid.rsplit("::", 1)[1]: f for fid, f in doc["functions"].items()}
    assert by_name["classify"]["valid"]  # the unclosed block was taken as the test
    for name in ("total", "noisy"):
        first = by_name[name]["history"][0]
        assert first["status"] == "invalid" and "not a Python file" in first["reasons"][0]
        assert by_name[name]["status"] == "invalid"
    assert "cut at max_tokens" in by_name["noisy"]["history"][0]["reasons"][0]
    assert doc["rounds"][0]["executed"] == 1  # rejected replies cost no execution
    # the second round tells the model what was wrong with its reply
    again = [r for r in llm_server.requests if "`total`" in r["messages"][1]["content"]][1]
    assert "not a Python file" in again["messages"][-1]["content"]


def test_a_dead_server_opens_the_breaker_once_and_every_function_still_gets_a_result(r2e_home, cli, fixture_exp,
                                                                                   llm_server):
    fixture_exp(keep=lambda r: r.name in ("classify", "total", "noisy"))
    llm_server.default = {"hang": True}
    url = llm_server.base_url.replace("http://", "http://bob:hunter2pw@")
    started = time.monotonic()
    result = cli(*LOOP, "--base-url", url, "-k", "2", "--llm-timeout", "1", "--llm-max-failures", "1",
                 "--max-tokens", "100")
    elapsed = time.monotonic() - started
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert elapsed < 30, elapsed  # one dead call (1 s, retried once), then no more calls
    assert len(llm_server.requests) == 2 and llm_server.requests[0]["max_tokens"] == 100
    assert result.output.count("no more LLM calls in this run") == 1
    doc = read_doc(r2e_home)
    assert len(doc["functions"]) == 3
    for entry in doc["functions"].values():
        assert entry["status"] == "generation-failed" and len(entry["history"]) == 2
        assert all(h["reasons"] and h["reasons"][0] for h in entry["history"])
    reasons = [h["reasons"][0] for f in doc["functions"].values() for h in f["history"]]
    assert sum("unavailable for the rest of this run" in r for r in reasons) == 5
    # credentials in --base-url are never printed nor saved
    assert doc["params"]["llm"]["base_url"].startswith("http://***@127.0.0.1")
    assert doc["params"]["llm"]["max_tokens"] == 100 and doc["params"]["llm"]["timeout"] == 1.0
    assert "hunter2pw" not in result.output and "hunter2pw" not in json.dumps(doc)
