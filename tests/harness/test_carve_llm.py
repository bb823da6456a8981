"""Carving with an LLM (the scripted OpenAI-compatible server): --carved-examples in the prompt,
auto = carved harnesses + the LLM for the rest, and an LLM test merged into an under-covered carved harness."""

from __future__ import annotations

import json

from tests.harness.test_carve_genexec import carve_exp, functions  # noqa: F401 - fixture

GRADE_TEST = '''```python
import unittest
from pkg.mod import grade, reference_grade


class TestGrade(unittest.TestCase):
    def test_all_bands(self):
        for score in (10, 60, 95):
            self.assertEqual(grade(score), reference_grade(score))
```'''

NEVER_TEST = '''```python
import unittest
from pkg.mod import never_called, reference_never_called


class TestNever(unittest.TestCase):
    def test_same(self):
        self.assertEqual(never_called(3), reference_never_called(3))
```'''

NOISY_TEST = '''```python
import random
import unittest
from pkg.mod import noisy, reference_noisy


class TestNoisy(unittest.TestCase):
    def test_seeded(self):
        random.seed(1)
        a = noisy(2)
        random.seed(1)
        self.assertEqual(a, reference_noisy(2))
```'''

LLM = ("--backend", "local", "--model", "scripted", "--timeout-per-test", "5", "--timeout-per-task", "60")


def reply(body):
    prompt = body["messages"][1]["content"]
    for name, text in (("`grade`", GRADE_TEST), ("`never_called`", NEVER_TEST), ("`noisy`", NOISY_TEST)):
        if name in prompt:
            return text
    return "no test for this one"


def test_auto_with_llm_carves_first_and_merges_llm_tests(r2e_home, cli, carve_exp, llm_server):  # noqa: F811
    llm_server.default = reply
    result = cli("genexec", "-e", "x", *LLM, "--base-url", llm_server.base_url, "-k", "2", "--min-valid", "1.0")
    assert result.exit_code == 0, result.output
    doc, fns = functions(r2e_home)
    assert doc["generator"] == "carve+llm"
    prompts = [r["messages"][1]["content"] for r in llm_server.requests]
    # the LLM is asked only about functions without carved samples, and about under-covered grade
    asked = sorted({name for p in prompts for name in ("`grade`", "`never_called`", "`noisy`", "`classify`") if name in p})
    assert asked == ["`grade`", "`never_called`", "`noisy`"]
    assert fns["never_called"]["valid"] and "TestNever" in fns["never_called"]["test"]
    grade = fns["grade"]
    assert grade["history"][0]["branch_coverage"] < 0.8 and grade["done"] and grade["branch_coverage"] == 1.0
    assert "TestGrade" in grade["test"] and "TestCarvedSamples" in grade["test"]  # merged
    grade_round2 = next(r for r in llm_server.requests if "`grade`" in r["messages"][1]["content"])["messages"]
    assert "covers only" in grade_round2[-1]["content"]  # coverage feedback on the carved harness
    assert "# r2e-carved-harness" in fns["classify"]["test"] and fns["classify"]["tokens"]["prompt"] == 0


def test_carved_examples_reach_the_prompt(r2e_home, cli, carve_exp, llm_server):  # noqa: F811
    llm_server.default = reply
    result = cli("genexec", "-e", "x", *LLM, "--base-url", llm_server.base_url, "-k", "1", "--generator", "llm",
                 "--carved-examples", "--id", carve_exp[1]["grade"].id, "--id", carve_exp[1]["never_called"].id)
    assert result.exit_code == 0, result.output
    doc, fns = functions(r2e_home)
    assert doc["generator"] == "llm" and fns["grade"]["valid"]
    prompts = {("grade" if "`grade`" in r["messages"][1]["content"] else "never"): r["messages"][1]["content"]
               for r in llm_server.requests}
    assert "Real calls recorded while the repository's own test suite ran" in prompts["grade"]
    assert "`args=(95,) kwargs={}` -> returned a str" in prompts["grade"]
    assert "tests/test_mod.py::test_grade" in prompts["grade"]
    assert "Real calls recorded" not in prompts["never"]  # nothing was carved for it
    report = json.loads(next((r2e_home / "experiments" / "x" / "carve").glob("*/report.json")).read_text())
    assert report["summary"]["functions"] == 2  # only the selected functions were carved


def test_carved_examples_without_llm_say_so(r2e_home, cli, carve_exp):  # noqa: F811
    result = cli("genexec", "-e", "x", "--backend", "local", "-k", "1", "--carved-examples",
                 "--id", carve_exp[1]["classify"].id)
    assert result.exit_code == 0, result.output
    assert "--carved-examples has no effect without an LLM" in result.output
