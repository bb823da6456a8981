"""`r2e agent run`: agents over a dataset, each instance in its own container, graded in another.

Workers are threads (the work is waiting on the model and on Docker). A worker's crash is that
instance's record (exit_reason "error"); the run goes on. Ctrl-C stops new work, makes running agents
stop at their next model call, and removes every container carrying the run's label.
"""

from __future__ import annotations

import concurrent.futures as cf
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from harness.agents.dataset import AgentInstance
from harness.agents.envs import EnvFactory, RunInterrupted
from harness.agents.grading import Grade, grade, prepare_pristine
from harness.agents.loop import AgentOptions, run_agent
from harness.agents.outputs import RunFiles, is_error
from harness.agents.summary import summarize
from harness.agents.trajectory import Trajectory
from installers.eval_script import git_exclude_command
from r2e.errors import R2EUsageError
from r2e.llm.client import LLMError

TEST_OUTPUT_LIMIT = 200_000
# LiteLLM routes by a provider prefix; an OpenAI-compatible endpoint wants the bare name.
LITELLM_PREFIXES = ("openai/", "hosted_vllm/", "litellm_proxy/")


def strip_provider(model: str) -> str:
    for prefix in LITELLM_PREFIXES:
        if model.startswith(prefix):
            return model[len(prefix):]
    return model


@dataclass(frozen=True)
class RunOptions:
    exp: str
    out: Path
    model_name: str  # as the user wrote it (preds.jsonl's model_name_or_path)
    max_workers: int = 1
    skip_existing: bool = False
    redo_errors: bool = False
    eval_timeout: float | None = None  # None: each instance's own (default 300 s)
    agent: AgentOptions = AgentOptions()


class _StoppableClient:
    """The run's LLM client, refusing new calls once the run is stopping: running agents end promptly."""

    def __init__(self, client, stopping):
        self._client, self._stopping = client, stopping
        self.config = getattr(client, "config", None)

    def chat(self, *args, **kwargs):
        if self._stopping.is_set():
            raise LLMError("the run was interrupted")
        return self._client.chat(*args, **kwargs)


def run_instance(inst: AgentInstance, client, envs: EnvFactory, files: RunFiles, opts: RunOptions) -> dict:
    """One instance start to end: agent container, patch, fresh grading container, files. Returns the record."""
    folder = files.instance_dir(inst.instance_id)
    shutil.rmtree(folder, ignore_errors=True)  # what a killed or redone run left: this run's files only
    log = files.logger(inst.instance_id)
    started = time.time()
    log(f"instance {inst.instance_id} ({inst.docker_image})")
    traj = _agent(inst, client, envs, opts, log)
    patch = traj.output_patch or ""
    files.write_text(folder / "output_patch.diff", patch)
    g: Grade | None = None
    traj.reward = 0.0
    if traj.exit_reason != "env_error":
        t0 = time.monotonic()
        try:
            g = grade(inst, patch, envs, timeout=opts.eval_timeout)
        except RunInterrupted:
            raise
        except Exception as exc:  # the grader's environment failed: the trajectory is kept, marked as an error
            traj.error = traj.error or f"GradingError: {type(exc).__name__}: {exc}"[:2000]
            log(f"grading failed: {type(exc).__name__}: {exc}")
        else:
            traj.reward = g.reward
            traj.test_output = _clip(g.log)
            files.write_text(folder / "test_output.log", g.log)
            files.write_json(folder / "report.json", g.report())
        traj.reward_calc_time = round(time.monotonic() - t0, 3)
        if g is not None:
            log(f"graded: reward {g.reward} ({g.reason}, {traj.reward_calc_time:.1f} s)")
    record = traj.to_dict()
    files.write_json(folder / "history.json", traj.history_record())
    files.write_json(folder / "metadata.json", {
        "instance_id": inst.instance_id, "repo": inst.repo, "docker_image": inst.docker_image,
        "dataset_kind": inst.kind, "exp_name": opts.exp, "model": opts.model_name, "scaffold": opts.agent.scaffold,
        "fn_calling": opts.agent.fn_calling, "exit_reason": traj.exit_reason, "error": traj.error,
        "steps": traj.num_steps, "total_tokens": traj.total_tokens, "reward": traj.reward,
        "grade_reason": g.reason if g else "", "reverted_test_files": list(g.reverted_test_files) if g else [],
        "reward_calc_time": traj.reward_calc_time, "started": started, "wall_time": round(time.time() - started, 3),
    })
    return record


def _agent(inst: AgentInstance, client, envs: EnvFactory, opts: RunOptions, log) -> Trajectory:
    env = envs(inst, "agent")
    try:
        err = prepare_pristine(env, inst)
        if not err:
            env.execute(git_exclude_command(env.workdir, env.venv), cwd="/", timeout=60)
            head = env.execute("git rev-parse HEAD", cwd=env.workdir, timeout=60)
            if not head.ok:
                err = f"no git repository at {env.workdir}: {head.output.strip()[-200:]}"
        if err:
            log(f"environment error: {err}")
            return Trajectory(trajectory_steps=[], problem_statement=inst.problem_statement,
                              docker_image=inst.docker_image, exp_name=opts.exp, ds=inst.ds(),
                              exit_reason="env_error", error=err, instance_id=inst.instance_id)
        row = {**inst.ds(), "base_commit": head.output.strip().splitlines()[-1]}
        traj = run_agent(row, env, client, replace(opts.agent, exp_name=opts.exp), log=log)
    finally:
        env.close()
    traj.ds = inst.ds()
    traj.env_args = {**traj.env_args, "ds": inst.ds()}
    return traj


def crash_record(inst: AgentInstance, exc: BaseException, opts: RunOptions) -> dict:
    traj = Trajectory(trajectory_steps=[], problem_statement=inst.problem_statement, docker_image=inst.docker_image,
                      exp_name=opts.exp, ds=inst.ds(), exit_reason="error", reward=0.0,
                      error=f"{type(exc).__name__}: {exc}"[:2000], instance_id=inst.instance_id)
    return traj.to_dict()


def run_all(instances: list[AgentInstance], client, envs: EnvFactory, files: RunFiles, opts: RunOptions,
            say: Callable[[str], None] = print) -> dict:
    """Run what is not done yet; returns reward_summary.json's content."""
    done = files.load()
    if done and not opts.skip_existing:
        raise R2EUsageError(f"{files.jsonl} already holds {len(done)} results: pass --skip-existing to resume "
                            "(with --redo-errors to run failed ones again) or choose another --exp")
    if opts.redo_errors:
        retry = {r.get("instance_id") for r in done if is_error(r)}
        if retry:
            files.drop(retry)
            done = [r for r in done if r.get("instance_id") not in retry]
    finished = {r.get("instance_id") for r in done}
    todo = [i for i in instances if i.instance_id not in finished]
    say(f"{len(instances)} instances: {len(finished & {i.instance_id for i in instances})} done, "
        f"{len(todo)} to run ({opts.max_workers} worker(s))")
    stoppable = _StoppableClient(client, envs.stopping)

    def work(inst: AgentInstance) -> dict:
        try:
            record = run_instance(inst, stoppable, envs, files, opts)
        except RunInterrupted:
            return {}
        except Exception as exc:  # one instance's crash is its own record, never the run's end
            record = crash_record(inst, exc, opts)
        if envs.stopping.is_set() and record.get("exit_reason") == "llm_error":
            return {}  # cut short by Ctrl-C: not a result, runs again on resume
        files.append(record)
        say(f"{inst.instance_id}: reward {record.get('reward')} ({record.get('exit_reason')}, "
            f"{len(record.get('trajectory_steps') or [])} steps)")
        return record

    executor = cf.ThreadPoolExecutor(max_workers=max(1, opts.max_workers))
    futures: list[cf.Future] = []
    try:
        futures = [executor.submit(work, inst) for inst in todo]
        for future in cf.as_completed(futures):
            future.result()
    except KeyboardInterrupt:
        envs.stopping.set()
        for f in futures:
            f.cancel()
        envs.remove_all()  # running agents fail their next command and stop at their next call
        executor.shutdown(wait=True, cancel_futures=True)
        envs.remove_all()  # anything started while the first sweep ran
        raise
    executor.shutdown(wait=True)
    summary = summarize(files.load(), opts.exp)
    files.rebuild(opts.model_name, summary)
    return summary


def _clip(text: str) -> str:
    if len(text) <= TEST_OUTPUT_LIMIT:
        return text
    half = TEST_OUTPUT_LIMIT // 2
    return f"{text[:half]}\n... [{len(text) - TEST_OUTPUT_LIMIT} characters cut] ...\n{text[-half:]}"

