"""The harness stages on a missing or corrupt input file: one line naming the file and the command
that makes it, exit code 1, no traceback, and nothing on disk changed."""

from __future__ import annotations

import pytest


def snapshot(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


COMMANDS = {
    "execute": ("execute", "-e", "x", "--backend", "local"),
    "genexec": ("genexec", "-e", "x", "--backend", "local", "--generator", "offline", "-k", "1"),
    "carve": ("carve", "-e", "x", "--backend", "local"),
    "export": ("export", "-e", "x", "-o", "OUT"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_stage_on_a_bad_extracted_file(r2e_home, cli, fixture_exp, tmp_path, command, damage):
    fixture_exp(keep=lambda r: r.name == "classify")
    extracted = r2e_home / "experiments" / "x" / "extracted.jsonl"
    if damage == "missing":
        extracted.unlink()
    else:
        extracted.write_text('{"id": "half a record"\n')
    before = snapshot(r2e_home / "experiments")
    out = tmp_path / "problems.jsonl"
    result = cli(*[str(out) if a == "OUT" else a for a in COMMANDS[command]])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert str(extracted) in lines[0] and "r2e extract -e x" in lines[0]
    assert snapshot(r2e_home / "experiments") == before and not out.exists()


def test_export_on_a_corrupt_genexec_file(r2e_home, cli, fixture_exp, tmp_path):
    fixture_exp(keep=lambda r: r.name == "classify")
    genexec = r2e_home / "experiments" / "x" / "genexec.json"
    genexec.write_text("{not json")
    before = snapshot(r2e_home / "experiments")
    result = cli("export", "-e", "x", "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert str(genexec) in line and "r2e genexec -e x" in line
    assert snapshot(r2e_home / "experiments") == before and not (tmp_path / "o.jsonl").exists()


def test_genexec_resume_on_a_corrupt_result(r2e_home, cli, fixture_exp):
    _, recs = fixture_exp(keep=lambda r: r.name == "classify")
    assert cli("genexec", "-e", "x", "--backend", "local", "--generator", "offline", "-k", "1").exit_code == 0
    result_json = next((r2e_home / "experiments" / "x" / "tests").glob("*/result.json"))
    result_json.write_text("[]")
    before = snapshot(r2e_home / "experiments")
    result = cli("genexec", "-e", "x", "--backend", "local", "--generator", "offline", "-k", "1", "--resume")
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert str(result_json) in line and "not a valid record" in line
    assert snapshot(r2e_home / "experiments") == before
