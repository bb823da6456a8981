"""The LLM repair loop against a real small model (SmolLM2-135M on llama.cpp, tests/real_model.py).

A repository with a dependency the install plan cannot see; the rule-based repairs are off, so the
model is asked. Whatever it answers (a command, prose, RUN ORACLE), the build finishes within its
bounded steps with a result.json and keeps its oracle, commands and venv.
"""

from __future__ import annotations

import json
import time

import pytest

from r2e.experiment import Experiment
from r2e.workspace import Workspace
from tests.conftest import make_git_repo
from tests.installers.fixtures import REPOS

pytestmark = pytest.mark.slow

STEPS = 2


def test_the_repair_loop_with_the_real_model_finishes_with_a_result(tmp_path, r2e_home, cli, real_model):
    repo = tmp_path / "hidden_dep"
    make_git_repo(repo, REPOS["hidden_dep"])
    assert cli("setup", "-e", "real", "-l", str(repo)).exit_code == 0
    started = time.monotonic()
    result = cli("build", "-e", "real", "--backend", "local", "--no-repairs", "--max-repair-steps", str(STEPS),
                 "--model", real_model.model, "--base-url", real_model.base_url, "--max-tokens", "128",
                 "--llm-timeout", "30", "--no-cache", "--timeout-per-task", "120", "--test-timeout", "30")
    elapsed = time.monotonic() - started
    assert result.exit_code in (0, 1), result.output  # 1: the build did not succeed; never a crash
    assert "Traceback" not in result.output
    assert elapsed < 120, elapsed  # 2 replies of <= 128 tokens and the oracle runs (~45 s on 2 busy cores)
    exp = Experiment(Workspace(r2e_home), "real")
    (record,) = exp.repos()
    build = exp.build_result(record.id, required=True)
    assert build.status != "error", build.failure
    assert build.oracle is not None and build.commands and build.venv and build.install_script
    files = exp.build_files(record.id)
    transcript = json.loads(files.repairs.read_text())
    asked = [s for s in transcript["steps"] if "error" not in s]
    assert 1 <= len(asked) <= STEPS and transcript["final_status"] == build.status
    for step in asked:
        assert step["kind"] in ("command", "oracle", "none")
    print(f"real model repair: {elapsed:.1f} s; status {build.status}; "
          f"{[(s['kind'], s.get('command', s['reply'][:60])) for s in asked]}")
