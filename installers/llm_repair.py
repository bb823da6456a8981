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

from installers.installer import Installer
from installers.options import BuildOptions
from installers.oracle import STATUS_RANK
from installers.plan import InstallPlan
from r2e.fsio import atomic_write_json
from r2e.llm import LLMClient, LLMError
from r2e.stage_records import OracleResult

RUN_ORACLE = "RUN ORACLE"
_FENCE = re.compile(r"```(?:bash|sh|shell|console)?\s*\n(.*?)```", re.S)
OUTPUT_CHARS = 4000


def system_prompt(inst: Installer, max_steps: int) -> str:
    text = (resources.files("installers") / "data" / "repair_prompt.md").read_text(encoding="utf-8")
    env = inst.env
    return text.format(workdir=env.workdir, venv=env.venv, pip=inst.pip, max_steps=max_steps)


def parse_reply(text: str) -> tuple[str, str]:
    """('oracle', '') or ('command', cmd) or ('none', text)."""
    m = _FENCE.search(text)
    if m and m.group(1).strip():
        return "command", m.group(1).strip()
    if RUN_ORACLE in text.upper():
        return "oracle", ""
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    if line.startswith("$ "):
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
    transcript goes to `transcript_path`. Returns the last oracle result and its status."""
    client = LLMClient(opts.llm)
    max_steps = opts.max_repair_steps
    messages = [
        {"role": "system", "content": system_prompt(inst, max_steps)},
        {"role": "user", "content": repo_context(inst, plan) + "\n\n" + describe_oracle(oracle, status)},
    ]
    transcript: list[dict] = []
    pending: list[str] = []  # commands since the last oracle run
    for step in range(1, max_steps + 1):
        if inst.remaining() <= 0 or status == "success":
            break
        try:
            reply = client.chat(messages, temperature=0.0, max_tokens=512).texts[0]
        except LLMError as exc:
            transcript.append({"step": step, "error": f"{type(exc).__name__}: {exc}"[:500]})
            break
        messages.append({"role": "assistant", "content": reply})
        kind, command = parse_reply(reply)
        entry = {"step": step, "reply": reply, "kind": kind}
        if kind == "command":
            res = inst.run("llm", command, timeout=min(600.0, max(1.0, inst.remaining())))
            pending.append(command)
            entry.update(command=command, exit_code=res.exit_code, timed_out=res.timed_out)
            feedback = f"exit code {res.exit_code}{' (timed out)' if res.timed_out else ''}\n{res.output[-OUTPUT_CHARS:]}"
        elif kind == "oracle":
            new_oracle = rerun_oracle()
            new_status = status_of(new_oracle)
            helped = STATUS_RANK.get(new_status, 0) > STATUS_RANK.get(status, 0) or (
                new_status == status and (new_oracle.pass_ratio or 0) > (oracle.pass_ratio or 0))
            if helped and pending:
                plan.extra_steps += pending  # folded into the repo's install script
            entry.update(status_after=new_status, helped=helped, folded=pending if helped else [])
            pending = []
            oracle, status = new_oracle, new_status
            feedback = describe_oracle(oracle, status)
        else:
            feedback = f"Answer with one command in a ```bash block, or {RUN_ORACLE}."
        transcript.append(entry)
        repair_steps.append({"source": "llm", **{k: v for k, v in entry.items() if k != "reply"}})
        messages.append({"role": "user", "content": feedback})
        atomic_write_json(transcript_path, {"model": opts.llm.model, "steps": transcript, "messages": messages})
    if pending and status != "success" and inst.remaining() > 0:  # commands the model never had checked
        new_oracle = rerun_oracle()
        new_status = status_of(new_oracle)
        if STATUS_RANK.get(new_status, 0) > STATUS_RANK.get(status, 0):
            plan.extra_steps += pending
            oracle, status = new_oracle, new_status
    atomic_write_json(transcript_path, {"model": opts.llm.model, "steps": transcript, "messages": messages, "final_status": status})
    return oracle, status
