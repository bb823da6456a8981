"""`r2e genexec --generator carve|auto` and `r2e carve` end to end (local backend), and quickstart's carving."""

from __future__ import annotations

import json

import pytest

from tests.harness.carve_fixture import make_carve_repo
from tests.harness.extracted import by_qualname, extract, setup_and_extract


@pytest.fixture
def carve_exp(tmp_path, r2e_home, monkeypatch):
    """Experiment 'x': the carving fixture repo, set up and extracted for real -> (repo id, {qualname: record})."""
    monkeypatch.delenv("R2E_MODEL", raising=False)
    src = make_carve_repo(tmp_path / "src" / "carvepkg")
    records = setup_and_extract(r2e_home, "x", src, ["pkg/mod.py"])
    return records[0].repo, by_qualname(records)


def functions(home):
    doc = json.loads((home / "experiments" / "x" / "genexec.json").read_text())
    return doc, {fid.rsplit("::", 1)[1]: f for fid, f in doc["functions"].items()}


def test_genexec_carve_only(r2e_home, cli, carve_exp):
    result = cli("genexec", "-e", "x", "--backend", "local", "--generator", "carve", "-k", "2",
                 "--timeout-per-test", "5", "--timeout-per-task", "60")
    # two functions get no test (nothing carved for them): genexec says so and exits 1
    assert result.exit_code == 1, result.output
    assert "2 function(s) without an executed test" in result.output and "no carved samples" in result.output
    assert "carve: 9/11 functions have carved samples" in result.output
    doc, fns = functions(r2e_home)
    assert doc["generator"] == "carve"
    for name in ("classify", "grade", "append_all", "apply", "total", "describe", "pairs", "Counter.add", "Counter.double"):
        assert fns[name]["valid"], (name, fns[name]["history"])
        assert "# r2e-carved-harness" in fns[name]["test"]
    # no samples: no test, and the reason says why (never faked)
    assert not fns["noisy"]["valid"] and fns["noisy"]["test"] is None
    assert "nondeterministic" in fns["noisy"]["history"][0]["reasons"][0]
    assert "never-called" in fns["never_called"]["history"][0]["reasons"][0]
    report = json.loads(next((r2e_home / "experiments" / "x" / "carve").glob("*/report.json")).read_text())
    assert report["summary"]["with_samples"] == 9 and report["functions"][carve_exp[1]["noisy"].id]["status"] == "nondeterministic"


def test_genexec_auto_carves_then_falls_back_offline_and_reuses_the_carving(r2e_home, cli, carve_exp):
    assert cli("carve", "-e", "x", "--backend", "local").exit_code == 0
    result = cli("genexec", "-e", "x", "--backend", "local", "-k", "2", "--timeout-per-test", "5",
                 "--timeout-per-task", "60", "--min-valid", "1.0")
    assert result.exit_code == 0, result.output
    assert "reused (9/11 functions with samples)" in result.output  # the suite did not run again
    doc, fns = functions(r2e_home)
    assert doc["generator"] == "carve+offline"
    assert "# r2e-carved-harness" in fns["classify"]["test"]
    never = fns["never_called"]
    assert never["valid"] and "# r2e-carved-harness" not in never["test"]  # the offline generator's
    noisy = fns["noisy"]  # not carved (non-deterministic); the offline harness seeds random on both sides
    assert noisy["test"] and "# r2e-carved-harness" not in noisy["test"]
    # grade's carved sample takes one branch: round 2 merges an offline test into the carved harness
    grade = fns["grade"]
    assert grade["history"][0]["valid"] and grade["history"][0]["branch_coverage"] < 0.8
    assert grade["history"][1]["valid"] and grade["history"][1]["branch_coverage"] > grade["history"][0]["branch_coverage"]
    assert grade["branch_coverage"] == grade["history"][1]["branch_coverage"]  # the merged suite is the final one
    assert "(merged" in grade["test"] and "TestCarvedSamples" in grade["test"] and "TestEquivalence" in grade["test"]


def test_carve_command_bad_experiment(cli, r2e_home):
    result = cli("carve", "-e", "nope", "--backend", "local")
    assert result.exit_code != 0 and "nope" in result.output and "Traceback" not in result.output


def test_quickstart_stage_carves_minilib(r2e_home, monkeypatch):
    from harness.quickstart_stages import stage_genexec
    from r2e.commands.quickstart import stage_setup
    from r2e.workspace import Workspace

    monkeypatch.delenv("R2E_MODEL", raising=False)
    ws = Workspace(r2e_home)
    assert stage_setup(ws, "qs")
    extract(r2e_home, "qs", ["minilib/stats.py", "minilib/textutil.py", "minilib/shapes.py"])
    lines: list[str] = []
    assert stage_genexec(ws, "qs", echo=lines.append)
    assert any("carve: 11/11 functions have carved samples" in line for line in lines), lines
    doc = json.loads((ws.experiment_dir("qs") / "genexec.json").read_text())
    assert doc["generator"] == "carve+offline"
    assert all(f["valid"] for f in doc["functions"].values())
    assert sum("# r2e-carved-harness" in f["test"] for f in doc["functions"].values()) == 11
