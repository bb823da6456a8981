"""One agent run: ask the model, act in the environment, repeat until a limit or a submission.

Limits (each recorded as the trajectory's `exit_reason` when it ends the run):
- `max_steps`: model calls;
- `max_tokens`: prompt + completion tokens of one call, i.e. the context the chat has grown to
  (R2E-Gym's `max_token_limit` means the same);
- `max_time`: wall-clock seconds for the whole run; a step's command never outlives it.
A reply that cannot be parsed is answered with a format-error observation; `max_format_errors`
of them in a row end the run. The model being unreachable ends it as "llm_error". Nothing here
raises for what the model or the environment does.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

from harness.agents.sandbox import Sandbox, SandboxError
from harness.agents.scaffolds import make_scaffold
from harness.agents.trajectory import Trajectory, TrajectoryStep
from r2e.errors import R2EError, R2EUsageError
from r2e.llm.client import LLMError


@dataclass(frozen=True)
class AgentOptions:
    scaffold: str = "r2egym"  # r2egym | mini
    fn_calling: bool = True  # r2egym only: OpenAI tools, else <function=...> blocks in the text
    max_steps: int = 40
    max_tokens: int = 65536  # 0: no limit
    max_time: float = 1200.0  # seconds for the whole run
    step_timeout: float = 90.0  # seconds per command in the environment
    temperature: float = 0.0
    max_format_errors: int = 3  # unparseable replies in a row before giving up
    max_observation_chars: int = 30000
    exp_name: str = ""


def run_agent(instance: Mapping[str, Any], env, client, opts: AgentOptions = AgentOptions(),
              log: Callable[[str], None] | None = None) -> Trajectory:
    """Run one agent on `instance` (needs `problem_statement`) in `env`; the patch is `git diff` of the workdir."""
    problem = instance.get("problem_statement")
    if not problem:
        raise R2EUsageError(f"instance {instance.get('instance_id', '?')} has no problem_statement")
    secret = _secret(client)
    emit = _redacting(log, secret)
    scaffold = make_scaffold(opts.scaffold, opts.fn_calling, opts.max_observation_chars)
    sandbox = Sandbox(env, opts.step_timeout)
    messages = scaffold.initial_messages(str(problem), env.workdir)
    steps: list[TrajectoryStep] = []
    exit_reason, error, output_patch = "", "", ""
    start = time.monotonic()
    total_time = 0.0
    format_errors = 0
    base = ""
    try:
        try:
            sandbox.install()
            base = str(instance.get("base_commit") or "") or sandbox.head_commit()
        except SandboxError as exc:
            exit_reason, error = "env_error", str(exc)
        while not exit_reason:
            scaffold.before_query(messages, opts.max_steps - len(steps))
            t0 = time.monotonic()
            try:
                reply = client.chat(copy.deepcopy(messages), temperature=opts.temperature, tools=scaffold.tools,
                                    purpose="agent")
            except (LLMError, R2EError) as exc:
                exit_reason, error = "llm_error", _redact(str(exc), secret)
                emit(f"LLM error: {error}")
                break
            llm_time = time.monotonic() - t0
            decision = scaffold.interpret(reply.message)
            remaining = opts.max_time - (time.monotonic() - start)
            t1 = time.monotonic()
            outcome = scaffold.act(decision, sandbox, timeout=max(1.0, min(opts.step_timeout, remaining)))
            env_time = time.monotonic() - t1
            scaffold.record(messages, decision, outcome)
            format_errors = format_errors + 1 if decision.error else 0
            tokens = reply.prompt_tokens + reply.completion_tokens
            if outcome.done:
                exit_reason = "agent"
            elif opts.max_format_errors and format_errors >= opts.max_format_errors:
                exit_reason = "format_errors"
            elif opts.max_tokens and tokens >= opts.max_tokens:
                exit_reason = "max_tokens"
            elif len(steps) + 1 >= opts.max_steps:
                exit_reason = "max_steps"
            elif time.monotonic() - start >= opts.max_time:
                exit_reason = "timeout"
            step_time = llm_time + env_time
            total_time += step_time
            steps.append(TrajectoryStep(
                step_idx=len(steps), thought=decision.thought, action=decision.action_str,
                observation=outcome.observation, done=bool(exit_reason),
                info={**outcome.info, "total_time": env_time},
                token_usage_prompt=reply.prompt_tokens, token_usage_completion=reply.completion_tokens,
                token_usage_total=tokens, llm_exec_time=llm_time, env_exec_time=env_time,
                total_step_time=step_time, total_time_traj=total_time, step_count=len(steps) + 1,
            ))
            emit(f"step {len(steps)}: {decision.action_str or decision.error}")
        if sandbox.installed:
            try:
                output_patch = sandbox.diff(base)
            except SandboxError as exc:
                error = error or str(exc)
                exit_reason = exit_reason if exit_reason != "agent" else "env_error"
    finally:
        if sandbox.installed:
            sandbox.remove()
    emit(f"exit: {exit_reason}; patch: {len(output_patch)} characters")
    return Trajectory(
        trajectory_steps=steps,
        problem_statement=str(problem),
        docker_image=str(instance.get("docker_image") or getattr(env, "image", "") or ""),
        exp_name=opts.exp_name or None,
        env_args={"ds": dict(instance), "repo_path": env.workdir,
                  "docker_image": str(instance.get("docker_image") or getattr(env, "image", "") or "")},
        agent_args=_agent_args(scaffold, client, opts),
        ds=dict(instance),
        max_steps=opts.max_steps,
        max_steps_absolute=opts.max_steps,
        max_token_limit=opts.max_tokens,
        max_llm_time=int(getattr(getattr(client, "config", None), "timeout", 0) or 0),
        max_exec_time=int(opts.step_timeout),
        max_total_time=int(opts.max_time),
        exit_reason=exit_reason,
        output_patch=output_patch,
        instance_id=str(instance.get("instance_id") or ""),
        messages=messages,
        tools=scaffold.tools,
        error=error,
    )


def _agent_args(scaffold, client, opts: AgentOptions) -> dict:
    config = getattr(client, "config", None)
    return {
        "system_prompt": scaffold.system_template,
        "instance_prompt": scaffold.instance_template,
        "command_files": ["file_editor", "search", "execute_bash", "finish"] if scaffold.name == "r2egym" else [],
        "llm_name": getattr(config, "model", ""),
        "llm_base_url": getattr(config, "base_url", None),
        "demo_file": None,
        "other_args": asdict(opts),
    }


def _secret(client) -> str:
    config = getattr(client, "config", None)
    value = os.environ.get(getattr(config, "api_key_env", "") or "OPENAI_API_KEY", "")
    return value if len(value) >= 4 else ""


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def _redacting(log: Callable[[str], None] | None, secret: str) -> Callable[[str], None]:
    def emit(line: str) -> None:
        if log is not None:
            log(_redact(line, secret))
    return emit
