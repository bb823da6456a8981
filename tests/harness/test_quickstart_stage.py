"""The genexec, export, tasks and agent quickstart stages on the bundled example, offline, local backend."""

from __future__ import annotations

import json
import subprocess

import click

from harness.quickstart_stages import stage_export, stage_genexec
from r2e import cli as cli_module
from r2e.commands.quickstart import STAGES, stage_agent, stage_setup, stage_tasks, tasks_file
from r2e.workspace import Workspace
from tests.harness.extracted import extract


def test_quickstart_genexec_and_export_on_minilib(r2e_home):
    names = [n for n, _ in STAGES]
    assert names.index("extract") < names.index("build") < names.index("genexec") < names.index("export")
    ws = Workspace(r2e_home)
    assert stage_setup(ws, "qs")
    records = extract(r2e_home, "qs", ["minilib/stats.py", "minilib/textutil.py", "minilib/shapes.py"])
    lines: list[str] = []
    assert stage_genexec(ws, "qs", echo=lines.append)
    assert any(line.startswith("round 1:") for line in lines)
    doc = json.loads((ws.experiment_dir("qs") / "genexec.json").read_text())
    assert doc["params"]["backend"] == "local"  # no docker build yet: the workspace venv
    assert len(doc["functions"]) == len(records)
    valid = [f for f in doc["functions"].values() if f["valid"]]
    assert len(valid) >= 0.8 * len(records)
    assert stage_export(ws, "qs", echo=lines.append)
    rows = (ws.experiment_dir("qs") / "problems.jsonl").read_text().splitlines()
    assert len(rows) == len(valid)


def test_stages_skip_loudly_without_extraction(r2e_home):
    ws = Workspace(r2e_home)
    assert stage_setup(ws, "qs")
    lines: list[str] = []
    assert stage_genexec(ws, "qs", echo=lines.append) and "skipped" in lines[0]


# -- the tasks and agent stages -----------------------------------------------------------------------
SEEN: list[list[str]] = []


@click.group()
def fake_tasks():
    """Stands in for `r2e tasks`: only some of the options the quickstart would give."""


@fake_tasks.command()
@click.option("-e", "--exp", "exp", required=True)
@click.option("--per-function", type=int)
@click.option("--seed", type=int)
@click.pass_obj
def mutate(ws, exp, per_function, seed):
    SEEN.append([str(ws.home), exp, per_function, seed])


def test_tasks_stage_calls_the_tasks_command_with_the_options_it_knows_or_skips_aloud(r2e_home, monkeypatch, capsys):
    ws = Workspace(r2e_home)
    monkeypatch.delitem(cli_module.COMMANDS, "tasks", raising=False)
    assert stage_tasks(ws, "qs") and "tasks: skipped (not available)" in capsys.readouterr().out
    monkeypatch.setitem(cli_module.COMMANDS, "tasks", f"{__name__}:fake_tasks")
    SEEN.clear()
    assert stage_tasks(ws, "qs")
    assert SEEN == [[str(ws.home), "qs", 1, 0]]  # --max-candidates and --runs left out: this one lacks them


def _diffs(checkout, path: str, old: str, new: str) -> tuple[str, str]:
    """(bug_patch, gold patch) of replacing `old` by `new` in `path` of a git checkout (left clean)."""
    target = checkout / path
    clean = target.read_text()
    target.write_text(clean.replace(old, new, 1))
    run = lambda *a: subprocess.run(["git", *a], cwd=checkout, check=True, capture_output=True, text=True).stdout
    bug, gold = run("diff"), run("diff", "-R")
    target.write_text(clean)
    return bug, gold


def test_agent_stage_resolves_hand_made_tasks_with_the_bundled_model_and_fails_when_one_is_not(r2e_home, capsys):
    ws = Workspace(r2e_home)
    assert stage_setup(ws, "qs")
    assert stage_agent(ws, "qs") and "agent: skipped (no tasks)" in capsys.readouterr().out
    repo = ws.repos_of("qs")[0]
    checkout = ws.repo_path(repo.id)
    bug, gold = _diffs(checkout, "minilib/stats.py", "/ len(values)", "/ (len(values) + 1)")
    row = {"instance_id": "minilib.mean", "repo": repo.id, "base_commit": repo.commit, "patch": gold,
           "bug_patch": bug, "problem_statement": "mean() is too small", "docker_image": "none",
           "FAIL_TO_PASS": json.dumps(["tests/test_stats.py::test_mean_and_median"]),
           "PASS_TO_PASS": json.dumps(["tests/test_stats.py::test_clamp"]), "strategy": "change_constant",
           "eval_script": "cd /testbed && exit 3"}  # the image's script: the local backend must not use it
    path = tasks_file(ws, "qs")
    path.write_text(json.dumps(row) + "\n")
    assert stage_agent(ws, "qs"), capsys.readouterr()
    out = capsys.readouterr().out
    assert "agent backend: local" in out and "agent: 1/1 resolved" in out
    # A task whose "gold" patch fixes nothing: the scripted model cannot resolve it, and the stage says so.
    path.write_text(path.read_text() + json.dumps({**row, "instance_id": "minilib.broken", "patch": "",
                                                         "problem_statement": "mean() is off"}) + "\n")
    assert not stage_agent(ws, "qs")
    assert "agent: 1/2 resolved" in capsys.readouterr().out  # the first one resumed, not run again
