"""The bounded LLM repair loop: the model answers a shell command or `RUN ORACLE`, nothing else.

Every command runs inside the build's environment (the sandbox, unless the user chose the local
backend); at most `max_repair_steps` replies; the transcript is saved to repairs.json; commands
that came before an improved oracle result are folded into the install plan (`extra_steps`).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Callable

from installers.installer import BuildCancelled, Installer
from installers.options import BuildOptions
from installers.oracle import STATUS_RANK
from installers.plan import InstallPlan
from r2e.fsio import atomic_write_json
from r2e.llm import LLMClient, LLMError
from r2e.llm.redact import scrub, secrets_of
from r2e.stage_records import OracleResult

RUN_ORACLE = "RUN ORACLE"
_FENCE = re.compile(r"```(?:bash|sh|shell|console)?\s*\n(.*?)```", re.S)
OUTPUT_CHARS = 4000


def system_prompt(inst: Installer, max_steps: int) -> str:
    text = (resources.files("installers") / "data" / "repair_prompt.md").read_text(encoding="utf-8")
    env = inst.env
    return text.format(workdir=env.workdir, venv=env.venv, pip=inst.pip, max_steps=max_steps)


def parse_reply(text: str) -> tuple[str, str]:
    """('oracle', '') or ('command', cmd) or ('none', text). A command no shell can take (a NUL byte) is
    no command: the model is told to answer again."""
    m = _FENCE.search(text)
    if m and m.group(1).strip():
        return ("command", m.group(1).strip()) if "\x00" not in m.group(1) else ("none", text)
    if RUN_ORACLE in text.upper():
        return "oracle", ""
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    if line.startswith("$ ") and "\x00" not in line:
        return "command", line[2:]
    return "none", text


def describe_oracle(oracle: OracleResult, status: str) -> str:
    lines = [f"Oracle status: {status}. imports_ok={oracle.imports_ok}; tests passed={oracle.passed} "
             f"failed={oracle.failed} errors={oracle.errors} pass_ratio={oracle.pass_ratio}"]
    for module, err in list(oracle.import_errors.items())[:5]:
        lines.append(f"import {module}: {err.get('type')}: {err.get('message')}\n{err.get('trace', '')[-1500:]}")
    if oracle.output_tail:
        lines.append("pytest output (tail):\n" + oracle.output_tail[-OUTPUT_CHARS:])
    return "\n".join(lines)


def repo_context(inst: Installer, plan: InstallPlan) -> str:
    listing = inst.env.execute("ls -A | head -50", timeout=30).output
    return (f"Files at the repository root:\n{listing}\nPython {plan.python}. Declared requirements: "
            f"{plan.requirements[:30]}; inferred: {dict(list(plan.inferred.items())[:30])}; "
            f"test requirements: {plan.test_requirements[:20]}.")


def llm_repair(inst: Installer, plan: InstallPlan, opts: BuildOptions, oracle: OracleResult, status: str,
               transcript_path: Path, repair_steps: list[dict], rerun_oracle: Callable[[], OracleResult],
               status_of: Callable[[OracleResult], str]) -> tuple[OracleResult, str]:
    """Ask the model for commands until the oracle succeeds, the steps or the time run out; the
    transcript goes to `transcript_path`. Returns the last oracle result and its status.

    Never fails the build: an LLM error (after the client's bounded retries), or anything else going
    wrong in a step, ends the loop with what the build had (its oracle, commands, script, venv)."""
    loop = RepairLoop(inst, plan, opts, oracle, status, transcript_path, repair_steps, rerun_oracle, status_of)
    try:
        loop.run()
    except BuildCancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - a repair that went wrong is recorded, the build goes on
        loop.stopped(f"repair loop stopped: {type(exc).__name__}: {exc}")
    loop.save(final=True)
    return loop.oracle, loop.status


class RepairLoop:
    """One build's conversation with the model. Everything it writes or sends back to the model is
    scrubbed of the API key and URL credentials (a command's output may hold them)."""

    def __init__(self, inst: Installer, plan: InstallPlan, opts: BuildOptions, oracle: OracleResult, status: str,
                 transcript_path: Path, repair_steps: list[dict], rerun_oracle: Callable[[], OracleResult],
                 status_of: Callable[[OracleResult], str]):
        self.inst, self.plan, self.opts, self.oracle, self.status = inst, plan, opts, oracle, status
        self.transcript_path, self.repair_steps = transcript_path, repair_steps
        self.rerun_oracle, self.status_of = rerun_oracle, status_of
        self.secrets = secrets_of(opts.llm)
        self.client = LLMClient(opts.llm, notify=opts.notify)
        self.transcript: list[dict] = []
        self.messages: list[dict] = []
        self.pending: list[str] = []  # commands since the last oracle run

    def clean(self, text: str) -> str:
        return scrub(text, self.secrets)

    def run(self) -> None:
        inst, max_steps = self.inst, self.opts.max_repair_steps
        self.messages = [
            {"role": "system", "content": system_prompt(inst, max_steps)},
            {"role": "user", "content": self.clean(repo_context(inst, self.plan) + "\n\n"
                                                   + describe_oracle(self.oracle, self.status))},
        ]
        for step in range(1, max_steps + 1):
            if inst.remaining() <= 0 or self.status == "success":
                break
            try:
                reply = self.client.chat(self.messages, temperature=0.0, purpose="repair").text
            except LLMError as exc:  # bounded retries are done; a breaker open stops at once
                self.stopped(f"{type(exc).__name__}: {exc}")
                break
            reply = self.clean(reply)
            self.messages.append({"role": "assistant", "content": reply})
            feedback = self.step(step, reply)
            self.messages.append({"role": "user", "content": self.clean(feedback)})
            self.save()
        if self.pending and self.status != "success" and inst.remaining() > 0:  # commands never checked
            new_oracle = self.rerun_oracle()
            new_status = self.status_of(new_oracle)
            if STATUS_RANK.get(new_status, 0) > STATUS_RANK.get(self.status, 0):
                self.plan.extra_steps += self.pending
                self.oracle, self.status = new_oracle, new_status
            self.pending = []

    def step(self, step: int, reply: str) -> str:
        """Act on one reply; returns what the model is told next."""
        kind, command = parse_reply(reply)
        entry = {"step": step, "reply": reply, "kind": kind}
        if kind == "command":
            res = self.inst.run("llm", command, timeout=min(600.0, max(1.0, self.inst.remaining())))
            self.pending.append(command)
            entry.update(command=command, exit_code=res.exit_code, timed_out=res.timed_out)
            timed_out = " (timed out)" if res.timed_out else ""
            feedback = f"exit code {res.exit_code}{timed_out}\n{res.output[-OUTPUT_CHARS:]}"
        elif kind == "oracle":
            new_oracle = self.rerun_oracle()
            new_status = self.status_of(new_oracle)
            helped = STATUS_RANK.get(new_status, 0) > STATUS_RANK.get(self.status, 0) or (
                new_status == self.status and (new_oracle.pass_ratio or 0) > (self.oracle.pass_ratio or 0))
            if helped and self.pending:
                self.plan.extra_steps += self.pending  # folded into the repo's install script
            entry.update(status_after=new_status, helped=helped, folded=self.pending if helped else [])
            self.pending = []
            self.oracle, self.status = new_oracle, new_status
            feedback = describe_oracle(self.oracle, self.status)
        else:
            feedback = f"Answer with one command in a ```bash block, or {RUN_ORACLE}."
        self.transcript.append(entry)
        self.repair_steps.append({"source": "llm", **{k: v for k, v in entry.items() if k != "reply"}})
        return feedback

    def stopped(self, why: str) -> None:
        """The loop ends early: why goes into repairs.json (not into repair_steps: nothing was tried)."""
        self.transcript.append({"step": len(self.transcript) + 1, "error": self.clean(why)[:500]})

    def save(self, final: bool = False) -> None:
        doc = {"model": self.opts.llm.model, "steps": self.transcript, "messages": self.messages}
        if final:
            doc["final_status"] = self.status
        atomic_write_json(self.transcript_path, doc)
