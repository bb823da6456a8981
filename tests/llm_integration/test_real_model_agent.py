"""An R2E-Gym agent in text mode (`<function=…>` blocks) against a real small model.

SmolLM2-135M never emits tool calls and rarely a well-formed block: what is asserted is the
mechanics — bounded time, every step recorded, malformed answers turned into format-error
observations (or the run ended with a recorded reason), never a crash.
"""

from __future__ import annotations

import time

import pytest

from harness.agents import AgentOptions, run_agent
from installers.local_env import LocalEnvironment
from r2e.llm import LLMClient, LLMConfig
from tests.conftest import make_git_repo

pytestmark = pytest.mark.slow

ENDINGS = {"agent", "max_steps", "max_tokens", "timeout", "format_errors", "llm_error"}


def test_text_mode_agent_with_the_real_model_ends_with_a_reason(tmp_path, real_model):
    repo = tmp_path / "repo"
    sha = make_git_repo(repo, {"calc.py": "def add(a, b):\n    return a - b\n"})
    client = LLMClient(LLMConfig(model=real_model.model, base_url=real_model.base_url, max_tokens=64, timeout=30,
                                 max_retries=0))
    opts = AgentOptions(scaffold="r2egym", fn_calling=False, max_steps=2, max_time=150, step_timeout=10)
    started = time.monotonic()
    with LocalEnvironment(repo, venv=tmp_path / "no-venv") as env:
        traj = run_agent({"instance_id": "calc-1", "problem_statement": "add() subtracts; make it add.",
                          "base_commit": sha}, env, client, opts)
    elapsed = time.monotonic() - started
    assert elapsed < 180, elapsed
    assert traj.exit_reason in ENDINGS, traj.exit_reason
    assert len(traj.trajectory_steps) <= opts.max_steps
    if traj.exit_reason != "llm_error":  # the model answered: each answer is a recorded step
        assert traj.trajectory_steps
    for step in traj.trajectory_steps:  # every answer became an action or a recorded format error
        assert step.observation, step
    assert traj.output_patch is not None
