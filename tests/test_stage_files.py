"""Every stage, given a missing or corrupt input file, exits with a one-line error naming the file and
changes nothing in the experiment's folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from r2e.experiment import Experiment
from r2e.stage_records import BuildResult, FunctionRecord, GenexecRun, OracleResult
from r2e.workspace import RepoRecord, Workspace, now_iso

EXP = "stagefiles"
REPO = "local__pkg"
FUNCTION = FunctionRecord(
    id=f"{REPO}/pkg/core.py::double", repo=REPO, path="pkg/core.py", name="double", start_line=1, end_line=3,
    code='def double(x):\n    """Twice x."""\n    return 2 * x', docstring="Twice x.", signature="def double(x)",
    context='def double(x):\n    """Twice x."""\n    return 2 * x\n', context_tokens=12, file_tokens=12,
    context_files=("pkg/core.py",))
GENEXEC = {"generator": "offline", "rounds": [{"round": 1, "worklist": 1, "valid": 1, "done_fraction": 1.0}],
           "functions": {FUNCTION.id: {"valid": True, "done": True, "branch_coverage": 1.0, "status": "valid",
                                       "test": "def test_double():\n    assert True\n"}},
           "stop_reason": "all done", "finished": "2026-01-01T00:00:00+00:00"}

# The input files a stage reads, by kind: how to find each in an experiment.
FILES = {
    "manifest": lambda exp: exp.manifest_path,
    "extracted": lambda exp: exp.extracted_path,
    "build_result": lambda exp: exp.build_result_path(REPO),
    "genexec": lambda exp: exp.genexec_path,
}

# Ways a file goes bad. Each takes the file's good bytes and returns the bad ones (None: no file).
GARBAGE = bytes(range(256)) * 4  # NULs and bytes that are not UTF-8
WRONG_TYPE = {  # valid JSON of the wrong shape
    "manifest": b"[1, 2]\n",
    "extracted": b"[1, 2]\n",
    "build_result": b"[]\n",
    "genexec": b'["functions"]\n',
}
WRONG_FIELD = {  # an object whose fields have the wrong types
    "manifest": b'{"experiment": "stagefiles", "repos": 5}\n',
    "extracted": b'{"id": 5}\n',
    "build_result": b'{"repo": "local__pkg", "status": "success", "oracle": [1]}\n',
    "genexec": b'{"functions": []}\n',
}
WRONG_SCALAR = {  # a field that should be a string or an object holds a number (only some kinds)
    "build_result": b'{"repo": "local__pkg", "status": 5}\n',
    "genexec": b'{"functions": {"a": 5}}\n',
}
WRONG_NESTED = {  # a list or an entry's field of the wrong type
    "build_result": b'{"repo": 5, "status": "success"}\n',
    "genexec": b'{"rounds": 5, "functions": {}}\n',
}
WRONG_ENTRY = {
    "genexec": b'{"functions": {"a": {"status": 5, "valid": true, "test": "x"}}}\n',
}
CORRUPTIONS = {
    "missing": lambda kind, good: None,
    "truncated": lambda kind, good: good[: len(good) // 2],
    "garbage": lambda kind, good: GARBAGE,
    "wrong_type": lambda kind, good: WRONG_TYPE[kind],
    "wrong_field": lambda kind, good: WRONG_FIELD[kind],
    "wrong_scalar": lambda kind, good: WRONG_SCALAR[kind],
    "wrong_nested": lambda kind, good: WRONG_NESTED[kind],
    "wrong_entry": lambda kind, good: WRONG_ENTRY[kind],
}
ONLY_FOR = {"wrong_scalar": WRONG_SCALAR, "wrong_nested": WRONG_NESTED, "wrong_entry": WRONG_ENTRY}

# (command line, input file it needs, files removed first so that the one under test is the only input)
LOCAL = ("--backend", "local")
STAGES = [
    (("extract", "-e", EXP), "manifest", ()),
    (("build", "-e", EXP, *LOCAL, "--no-llm"), "manifest", ()),
    (("genexec", "-e", EXP, *LOCAL, "--generator", "offline"), "extracted", ()),
    (("genexec", "-e", EXP, *LOCAL, "--generator", "offline"), "build_result", ()),
    (("execute", "-e", EXP, *LOCAL), "extracted", ()),
    (("execute", "-e", EXP, *LOCAL), "build_result", ()),
    (("carve", "-e", EXP, *LOCAL), "extracted", ()),
    (("carve", "-e", EXP, *LOCAL), "build_result", ()),
    (("export", "-e", EXP, "-o", "{out}"), "genexec", ()),
    (("export", "-e", EXP, "-o", "{out}"), "build_result", ()),
    (("report", "-e", EXP), "genexec", ()),  # missing is fine here: builds alone make a report
    (("report", "-e", EXP), "build_result", ("genexec",)),
    (("list-functions", "-e", EXP), "extracted", ()),
    (("show", "-e", EXP, FUNCTION.id), "extracted", ()),
]


@pytest.fixture
def experiment(r2e_home, tmp_path) -> Experiment:
    """An experiment with one repo, its extraction, a successful local build and a genexec document."""
    ws = Workspace(r2e_home)
    checkout = tmp_path / "checkout"
    (checkout / "pkg").mkdir(parents=True)
    (checkout / "pkg" / "__init__.py").write_text("")
    (checkout / "pkg" / "core.py").write_text(FUNCTION.code + "\n")
    ws.add_to_manifest(EXP, RepoRecord(id=REPO, kind="path", source=str(checkout), commit="0" * 40,
                                       path=str(checkout), added=now_iso()))
    exp = Experiment(ws, EXP)
    exp.write_functions([FUNCTION])
    exp.write_build_result(BuildResult(
        repo=REPO, status="success", backend="local", python="3.11", venv=str(tmp_path / "venv"),
        workdir=str(checkout), oracle=OracleResult(imports_ok=True, tests_run=True, passed=1, pass_ratio=1.0)))
    exp.write_genexec(GenexecRun.from_dict(GENEXEC))
    return exp


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time."""
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            st = path.stat()
            out[str(path.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return out


def run(args: tuple[str, ...], r2e_home: Path):
    from r2e.cli import cli

    return CliRunner().invoke(cli, ["--home", str(r2e_home), *args], catch_exceptions=True)


def cases():
    for args, kind, remove in STAGES:
        for corruption in CORRUPTIONS:
            if corruption in ONLY_FOR and kind not in ONLY_FOR[corruption]:
                continue
            if args[0] == "export" and kind == "build_result" and corruption == "missing":
                continue  # an unbuilt repo's problems are exported without an image
            if args[0] == "report" and kind == "genexec" and corruption == "missing":
                continue  # builds alone still make a report
            if kind == "build_result" and corruption == "missing" and args[0] in ("genexec", "execute", "carve"):
                continue  # a repo without a build is per-repo data (or the local fallback venv), not bad input
            yield pytest.param(args, kind, remove, corruption, id=f"{args[0]}-{kind}-{corruption}")


@pytest.mark.parametrize("args,kind,remove,corruption", list(cases()))
def test_bad_input_file_is_a_one_line_error_and_changes_nothing(experiment, r2e_home, tmp_path, args, kind, remove,
                                                                 corruption):
    for other in remove:
        FILES[other](experiment).unlink()
    target = FILES[kind](experiment)
    bad = CORRUPTIONS[corruption](kind, target.read_bytes())
    if bad is None:
        target.unlink()
        if kind == "build_result":
            target.parent.rmdir()  # never built: no build folder either
    else:
        target.write_bytes(bad)
    out = tmp_path / "problems.jsonl"
    args = tuple(a.format(out=out) for a in args)
    before = snapshot(experiment.dir)

    result = run(args, r2e_home)

    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert target.name in errors[0], errors[0]
    assert snapshot(experiment.dir) == before
    assert not out.exists()


def test_the_fixture_is_good_input(experiment, r2e_home):
    """The stages that read without building or running accept the untouched fixture."""
    assert run(("list-functions", "-e", EXP), r2e_home).exit_code == 0
    assert run(("show", "-e", EXP, FUNCTION.id), r2e_home).exit_code == 0
    result = run(("report", "-e", EXP, "--format", "json"), r2e_home)
    assert result.exit_code == 0, result.output
    assert json.loads((experiment.report_dir / "report.json").read_text())["build"]["repos"] == 1
