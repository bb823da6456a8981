"""`r2e normalize` over five outside instances, with real Docker on R2E's minimal local base.

One deterministic batch is shared by the tests of this module (builds are the expensive part); the LLM
batch reuses its images, so only the model's Dockerfile is built again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.normalize.fixtures import UNPULLABLE, llm_fix, make_instances

pytestmark = pytest.mark.timeout(300)
RIGHT_BUCKET = {"fx__nested-1": "transferred", "fx__withvenv-2": "transferred", "fx__slow-3": "eval_timeout",
                "fx__flaky-4": "transferred", "fx__needsdep-5": "transferred"}


def normalize(home: Path, *args: str):
    from r2e.cli import cli

    return CliRunner().invoke(cli, ["--home", str(home), "normalize", *args], catch_exceptions=False)


def failures(out: Path, stem: str = "instances") -> str:
    return "; ".join(f"{e['instance_id']}: {e.get('failure_detail')}"
                     for e in json.loads((out / f"{stem}_failed.json").read_text()))


def buckets(out: Path, stem: str = "instances") -> dict[str, str]:
    got = {e["instance_id"]: "transferred" for e in json.loads((out / f"{stem}_transferred.json").read_text())}
    got.update({e["instance_id"]: e["failure_reason"] for e in json.loads((out / f"{stem}_failed.json").read_text())})
    return got


@pytest.fixture(scope="module")
def batch(tmp_path_factory, docker_client, docker_base):
    root = tmp_path_factory.mktemp("normalize")
    repos, instances = make_instances(root)
    out = root / "out"
    result = normalize(root / "home", str(instances), "--output", str(out), "--repos", str(repos),
                       "--eval-timeout", "10", "--max-workers", "2", "--no-llm")
    yield root, repos, instances, out, result
    for image in docker_client.images.list(name="r2e-normalize-fx-*"):
        for tag in image.tags:
            try:
                docker_client.images.remove(tag, force=True)
            except Exception:
                pass


def test_no_llm_four_of_five_land_right_the_fifth_fails_with_its_reason(batch):
    root, repos, instances, out, result = batch
    assert result.exit_code == 1, result.output  # some instances failed: the batch still finished
    got = buckets(out)
    right = [i for i, want in RIGHT_BUCKET.items() if got[i] == want]
    assert sorted(right) == ["fx__flaky-4", "fx__nested-1", "fx__slow-3", "fx__withvenv-2"], failures(out)
    assert got["fx__needsdep-5"] == "gold_fails"
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["total"], summary["succeeded"], summary["failed"], summary["success_rate"]) == (5, 3, 2, 0.6)
    assert {f["instance_id"]: f["reason"] for f in summary["failed_instances"]} == {
        "fx__slow-3": "eval_timeout", "fx__needsdep-5": "gold_fails"}
    assert summary["builds"] >= 5


def test_transferred_entries_are_normalised_and_recorded(batch, docker_client):
    root, repos, instances, out, result = batch
    entries = {e["instance_id"]: e for e in json.loads((out / "instances_transferred.json").read_text())}
    given = {e["instance_id"]: e for e in json.loads(instances.read_text())}
    for iid, entry in entries.items():
        for key, value in given[iid].items():  # the input's fields are carried
            if key not in ("FAIL_TO_PASS", "PASS_TO_PASS", "dockerfile", "eval_script"):
                assert entry[key] == value, key
        assert docker_client.images.get(entry["docker_image"])
        assert entry["dockerfile"].startswith("FROM r2e-base:py3.11-slim\n")  # the unpullable FROM, substituted
        assert UNPULLABLE not in entry["dockerfile"] and "git clone" not in entry["dockerfile"]
        assert any(f"FROM {UNPULLABLE} cannot be pulled" in n for n in entry["normalisations"])
        assert any("replaced by COPY of the local copy" in n for n in entry["normalisations"])
        assert 0 < entry["eval_runtime_s"] < 10
    nested = entries["fx__nested-1"]
    assert any("moved from /testbed/pkg to /testbed" in n for n in nested["normalisations"])
    assert "/testbed/pkg" not in nested["eval_script"]
    assert json.loads(nested["FAIL_TO_PASS"]) == ["tests/test_add.py::test_add"]  # JSON-encoded in, JSON-encoded out
    venv = entries["fx__withvenv-2"]
    assert any("virtual environments found: .venv" in n for n in venv["normalisations"])
    assert any("/results.txt" in n and "after the base eval" in n for n in venv["normalisations"])
    flaky = entries["fx__flaky-4"]
    assert flaky["flaky_tests"] == ["tests/test_f.py::test_flaky"]
    # the transferred dataset is what `r2e agent run` reads, as is
    from harness.agents.dataset import load_instances

    agent_rows = {i.instance_id: i for i in load_instances(out / "instances_transferred.json")}
    assert agent_rows.keys() == entries.keys()
    for iid, row in agent_rows.items():
        assert row.docker_image == entries[iid]["docker_image"] and row.eval_script == entries[iid]["eval_script"]
        f2p = entries[iid].get("FAIL_TO_PASS") or []
        assert row.workdir == "/testbed" and row.fail_to_pass == tuple(json.loads(f2p) if isinstance(f2p, str) else f2p)
    assert flaky["PASS_TO_PASS"] == ["tests/test_f.py::test_ok"]
    # the image itself: /testbed is the toplevel at base_commit and clean after an eval (git on the host)
    from harness.normalize import engine, gitcheck

    tree = root / "check-nested"
    engine.run_eval(docker_client, nested["docker_image"], nested["eval_script"], runs=1, timeout=30, export_to=tree)
    assert gitcheck.head(tree) == given["fx__nested-1"]["base_commit"]
    assert gitcheck.status(tree) == []
    folder = next((out / "instances").glob("fx_nested-1-*"))
    assert (folder / "build.log").exists() and json.loads((folder / "checks.json").read_text())


def test_scripted_llm_fixes_the_fifth_and_skip_existing_builds_nothing(batch, llm_server):
    root, repos, instances, out, _ = batch
    llm_server.default = llm_fix
    out2 = root / "out-llm"
    result = normalize(root / "home", str(instances), "--output", str(out2), "--repos", str(repos),
                       "--eval-timeout", "10", "--max-workers", "2", "--max-iterations", "2",
                       "--model", "scripted", "--base-url", llm_server.base_url)
    assert buckets(out2) == RIGHT_BUCKET, failures(out2) + result.output
    assert len(llm_server.requests) == 1  # only the check an edit may fix asked the model (not the timeout)
    assert "gold_fails" in llm_server.requests[0]["messages"][-1]["content"]
    entry = next(e for e in json.loads((out2 / "instances_transferred.json").read_text())
                 if e["instance_id"] == "fx__needsdep-5")
    assert "/opt/deps/tinydep.py" in entry["dockerfile"]
    assert any("LLM iteration 1" in n for n in entry["normalisations"])
    folder = next((out2 / "instances").glob("fx_needsdep-5-*"))
    transcript = json.loads((folder / "llm_transcript.json").read_text())
    assert transcript[0]["edit"] == "dockerfile"
    assert json.loads((out2 / "summary.json").read_text())["builds"] == 1  # the rest reused the first batch's images

    again = normalize(root / "home", str(instances), "--output", str(out2), "--repos", str(repos),
                      "--eval-timeout", "10", "--skip-existing", "--no-llm")
    summary = json.loads((out2 / "summary.json").read_text())
    assert (summary["builds"], summary["skipped_existing"], summary["succeeded"]) == (0, 5, 4), again.output
    assert buckets(out2) == RIGHT_BUCKET
