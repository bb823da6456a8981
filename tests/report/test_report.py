"""`r2e report` over fixture experiment folders shaped like real build and genexec output."""

import json

import pytest

from r2e.experiment import Experiment
from r2e.report.aggregate import histogram, report_figures
from r2e.report.classify import distribution_for, exception_class, missing_module
from r2e.report.load import load_experiment
from r2e.stage_records import BuildResult, Failure, GenexecRun, OracleResult
from r2e.workspace import Workspace

PNG = b"\x89PNG\r\n\x1a\n"


def result(repo, status, python="3.11", ratio=None, failure=None, sources=("pyproject.toml",), duration=10.0,
           repairs=(), **fields) -> BuildResult:
    oracle = None if ratio is None else OracleResult(tests_run=True, passed=int(ratio * 10), failed=10 - int(ratio * 10),
                                                     pass_ratio=ratio)
    return BuildResult(repo=repo, status=status, python=python, oracle=oracle, failure=failure,
                       plan={"python": python, "sources": list(sources)}, duration=duration,
                       repair_steps=tuple(repairs), **fields)


@pytest.fixture
def experiment(r2e_home):
    exp = Experiment(Workspace(r2e_home), "batch")
    results = [
        result("a__ok", "success", ratio=1.0, duration=30,
               repairs=[{"source": "rule", "rule": "missing-module", "helped": True}]),
        result("b__yaml", "failed", failure=Failure("ModuleNotFoundError", "No module named 'yaml'", "yaml"),
               repairs=[{"source": "rule", "rule": "missing-module", "helped": False}]),
        result("c__cv", "failed", python="3.9", sources=("requirements.txt",)),
        result("d__half", "partial", ratio=0.5, sources=()),
        result("e__py2", "python2", python=None),
        result("f__slow", "timeout", failure=Failure("Timeout", "time ran out"), duration=1800),
        result("g__cmake", "success", python=None, ratio=1.0, build_system="cmake", language="c"),
    ]
    for res in results:
        exp.write_build_result(res)
    # c__cv has no recorded class: it must come from the install log's last traceback
    exp.install_log_path("c__cv").write_text(
        "Traceback (most recent call last):\n  File \"x.py\", line 1\nImportError: old\n"
        "Traceback (most recent call last):\n  File \"pkg/__init__.py\", line 3, in <module>\n"
        "    import cv2\nModuleNotFoundError: No module named 'cv2'\n")
    exp.build_repo_dir("h__running").mkdir()  # a batch still running: folder, no result yet
    exp.build_repo_dir("i__broken").mkdir()
    exp.build_result_path("i__broken").write_text('{"status": "succ')  # a corrupt file: reported, not fatal
    exp.write_genexec(GenexecRun.from_dict({
        "generator": "carve", "rounds": [
            {"round": 1, "worklist": 4, "valid": 1, "done_fraction": 0.25},
            {"round": 2, "worklist": 3, "valid": 2, "done_fraction": 0.75}],
        "functions": {
            "f1": {"valid": True, "done": True, "branch_coverage": 1.0, "status": "ok"},
            "f2": {"valid": True, "done": True, "branch_coverage": 0.85, "status": "ok"},
            "f3": {"valid": True, "done": True, "branch_coverage": 0.9, "status": "ok"},
            "f4": {"valid": False, "done": False, "branch_coverage": None, "status": "timeout"}},
        "stop_reason": "done fraction reached 0.7", "finished": "2026-11-24T00:00:00+00:00"}))
    exp.write_tasks_summary({"total": 9, "valid": 5, "rejections": {"no_failing_test": 3, "flaky": 1},
                             "per_strategy": {"swap_operator": {"candidates": 6, "valid": 4},
                                              "off_by_one": {"candidates": 3, "valid": 1}}})
    return exp


def test_figures_from_partial_batch(experiment):
    results = load_experiment(experiment)
    assert results.in_progress == ["h__running"] and results.unreadable == ["i__broken"]
    b = report_figures(results)["build"]
    assert b["repos"] == 7 and b["success_rate"] == round(2 / 7, 4)
    assert b["status_counts"] == {"success": 2, "failed": 2, "partial": 1, "python2": 1, "timeout": 1}
    assert b["exception_classes"]["ModuleNotFoundError"] == 2  # one recorded, one from the log
    assert b["exception_classes"]["Timeout"] == 1
    mods = {r["module"]: r for r in b["missing_modules"]}
    assert mods["yaml"]["distribution"] == "PyYAML" and mods["yaml"]["name_mismatch"]
    assert mods["cv2"] == {"module": "cv2", "count": 1, "distribution": "opencv-python-headless", "name_mismatch": True}
    assert b["pass_ratio_histogram"]["0.9-1.0"] == 2 and b["pass_ratio_histogram"]["0.5-0.6"] == 1
    assert b["success_by_python"]["3.11"] == {"repos": 4, "success": 1, "rate": 0.25}
    assert b["success_by_build_system"]["cmake"]["rate"] == 1.0
    assert b["success_by_build_system"]["requirements"]["repos"] == 1
    assert b["duration"]["per_repo"]["f__slow"] == 1800
    assert b["repairs"][0] == {"repair": "rule: missing-module", "tried": 2, "helped": 1}
    g = report_figures(results)["genexec"]
    assert [r["done_fraction"] for r in g["rounds"]] == [0.25, 0.75]
    assert g["valid"] == 3 and g["coverage_histogram"]["0.8-0.9"] == 1 and g["coverage_histogram"]["0.9-1.0"] == 2


@pytest.mark.parametrize("fmt,name", [("md", "report.md"), ("html", "report.html"), ("json", "report.json")])
def test_report_command_writes_each_format(cli, experiment, fmt, name, tmp_path):
    out = tmp_path / f"out-{fmt}"
    r = cli("report", "-e", "batch", "--format", fmt, "-o", str(out))
    assert r.exit_code == 0, r.output
    assert "7 repositories built, success rate 28.6%" in r.output and "partial report" in r.output
    text = (out / name).read_text()
    if fmt == "json":
        data = json.loads(text)
        assert data["build"]["status_counts"]["timeout"] == 1 and data["charts"] == {}
        return
    charts = sorted(p.name for p in (out / "charts").glob("*.png"))
    assert {"status.png", "exceptions.png", "missing_modules.png", "pass_ratio.png", "done_fraction.png",
            "coverage.png", "success_by_python.png", "success_by_build_system.png", "duration.png"} <= set(charts)
    for png in (out / "charts").glob("*.png"):
        assert png.read_bytes().startswith(PNG) and png.stat().st_size > 2000
        assert f"charts/{png.name}" in text  # every chart is referenced by the report
    assert "ModuleNotFoundError" in text and "PyYAML" in text
    assert "tasks: 5 valid of 9 candidates; rejected: no_failing_test 3, flaky 1" in r.output
    assert "no_failing_test" in text and "off_by_one" in text  # rejections by reason, candidates by strategy


def test_default_folder_and_errors(cli, experiment, r2e_home):
    assert cli("report", "-e", "batch").exit_code == 0
    assert (experiment.report_dir / "report.md").exists()
    missing = cli("report", "-e", "nope")
    assert missing.exit_code == 1 and "experiment 'nope' not found" in missing.output
    (r2e_home / "experiments" / "empty").mkdir()
    empty = cli("report", "-e", "empty")
    assert empty.exit_code == 1 and "no build or genexec results yet" in empty.output


def test_classification_helpers():
    assert exception_class("", "E   AttributeError: module 'collections' has no attribute 'Mapping'", None) == "AttributeError"
    assert exception_class("x", "", "builtins.NameError") == "NameError"
    assert exception_class("all good", "", None) is None
    assert missing_module("cannot import name 'soft_unicode' from 'markupsafe'", "", None, "ImportError") == "markupsafe"
    assert missing_module("", "No module named 'google.protobuf'", None, None) == "google"
    assert distribution_for("sklearn") == ("scikit-learn", True)
    assert distribution_for("requests")[1] is False  # same name, whatever its case
    assert histogram([0.0, 0.05, 1.0, 0.95]) == {**{f"{i / 10:.1f}-{(i + 1) / 10:.1f}": 0 for i in range(10)},
                                                 "0.0-0.1": 2, "0.9-1.0": 2}
