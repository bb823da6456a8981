"""Editing agents run in an environment: R2E-Gym's tool scaffold and mini-swe-agent's bash-only one."""

from harness.agents.loop import AgentOptions, run_agent
from harness.agents.trajectory import EXIT_REASONS, Trajectory, TrajectoryStep

__all__ = ["AgentOptions", "EXIT_REASONS", "Trajectory", "TrajectoryStep", "run_agent"]
