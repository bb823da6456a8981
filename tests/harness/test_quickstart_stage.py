"""The genexec and export quickstart stages on the bundled example, offline, local backend."""

from __future__ import annotations

import json

from harness.quickstart_stages import stage_export, stage_genexec
from r2e.commands.quickstart import STAGES, stage_setup
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
