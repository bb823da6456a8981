"""The record of one agent run, with R2E-Gym's field names so its tools read our JSONL unchanged.

`Trajectory.to_dict()` is one line of EXP.jsonl (R2E-Gym's `Trajectory.model_dump()` shape);
`history_record()` is one line of trajectories.jsonl (the chat, plus the tools in fn-calling mode).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Why a run stopped. R2E-Gym spells its own ones differently (max_step_limit, token_limit, ...).
EXIT_REASONS = ("agent", "max_steps", "max_tokens", "timeout", "format_errors", "llm_error", "env_error")
TIMING_FIELDS = ("llm_exec_time", "env_exec_time", "total_step_time", "total_time_traj")


@dataclass(frozen=True)
class TrajectoryStep:
    step_idx: int
    thought: str
    action: str
    observation: str
    done: bool
    info: dict
    token_usage_prompt: int
    token_usage_completion: int
    token_usage_total: int
    llm_exec_time: float
    env_exec_time: float
    total_step_time: float
    total_time_traj: float
    step_count: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrajectoryStep":
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass
class Trajectory:
    trajectory_steps: list[TrajectoryStep]
    problem_statement: str
    docker_image: str = ""
    exp_name: str | None = None
    env_args: dict = field(default_factory=dict)
    agent_args: dict = field(default_factory=dict)
    ds: dict | None = None
    max_steps: int = 0
    max_steps_absolute: int = 0
    max_token_limit: int = 0
    max_llm_time: int = 0
    max_exec_time: int = 0
    max_total_time: int = 0
    exit_reason: str = ""
    output_patch: str = ""
    reward: float | None = None
    test_output: str | None = None
    reward_calc_time: float | None = None
    custom_test_outputs: dict = field(default_factory=dict)
    regression_test_output: str | None = None
    # Ours, beyond R2E-Gym's record: the key runs resume on, and the chat for trajectories.jsonl.
    instance_id: str = ""
    error: str = ""  # why the run could not go on (llm_error, env_error), secrets redacted
    messages: list[dict] = field(default_factory=list)
    tools: list[dict] | None = None

    @property
    def num_steps(self) -> int:
        return len(self.trajectory_steps)

    @property
    def total_tokens(self) -> int:
        return sum(s.token_usage_total for s in self.trajectory_steps)

    def to_dict(self, with_history: bool = False) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["trajectory_steps"] = [s.to_dict() for s in self.trajectory_steps]
        if not with_history:
            data.pop("messages")
            data.pop("tools")
        return data

    def history_record(self) -> Any:
        """A trajectories.jsonl line: the raw messages list, or {messages, tools} in fn-calling mode."""
        if self.tools:
            return {"messages": self.messages, "tools": self.tools}
        return self.messages

    @classmethod
    def from_dict(cls, data: dict) -> "Trajectory":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["trajectory_steps"] = [TrajectoryStep.from_dict(s) for s in data.get("trajectory_steps", [])]
        return cls(**values)


def without_timings(record: dict) -> dict:
    """The record with every wall-clock value removed: two runs of one script compare equal."""
    out = {k: v for k, v in record.items() if k not in ("reward_calc_time",)}
    steps = []
    for step in record.get("trajectory_steps", []):
        step = {k: v for k, v in step.items() if k not in TIMING_FIELDS}
        step["info"] = {k: v for k, v in (step.get("info") or {}).items() if k != "total_time"}
        steps.append(step)
    out["trajectory_steps"] = steps
    return out
