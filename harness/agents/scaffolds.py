"""The two scaffolds: how a reply becomes an action, how an action runs, how the chat grows.

- `r2egym`: R2E-Gym's tools (file_editor, execute_bash, search, finish), as OpenAI tools
  (function calling) or as <function=...> blocks in the text (text mode), with R2E-Gym's
  prompts, observation formats and "Steps Remaining" reminders, so its checkpoints work unchanged.
- `mini`: mini-swe-agent (v1): one ```bash block per reply, run in a fresh shell; the run ends
  when a command's output starts with COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from harness.agents.actions import Action, parse_bash_block, parse_function_text, parse_tool_call
from harness.agents.sandbox import Sandbox

SUBMIT_MARKERS = ("COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", "MINI_SWE_AGENT_FINAL_OUTPUT")
FINISHED = "<<< Finished >>>"
BASH_LINES_KEPT = 40  # R2E-Gym keeps the first and last 40 lines of a long execute_bash output
MINI_OUTPUT_LIMIT = 10000
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@lru_cache(maxsize=None)
def prompt(name: str) -> str:
    return (resources.files("harness.agents") / "prompts" / name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def r2egym_tools() -> tuple[dict, ...]:
    text = (resources.files("harness.agents") / "data" / "r2egym_tools.json").read_text(encoding="utf-8")
    return tuple(json.loads(text))


def fill(template: str, **values: object) -> str:
    """Replace {name} placeholders only: problem statements and code are full of other braces."""
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def truncate_middle(text: str, limit: int) -> str:
    """Keep head and tail of an over-long observation, with a visible marker of what was cut."""
    if limit <= 0 or len(text) <= limit:
        return text
    half = limit // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n<Observation truncated in middle for saving context: {cut} characters cut>\n{text[-half:]}"


@dataclass
class Decision:
    """One parsed reply: what the model said, what it asked for, or why that could not be read."""
    thought: str
    action: Action
    action_str: str
    assistant_message: dict
    error: str = ""  # non-empty: a format error, answered with an observation instead of a crash
    tool_call: dict | None = None
    n_actions: int = 0


@dataclass
class Outcome:
    observation: str
    done: bool = False
    info: dict = field(default_factory=dict)


class R2EGymScaffold:
    name = "r2egym"
    tool_names = ("file_editor", "execute_bash", "search", "finish")

    def __init__(self, fn_calling: bool = True, max_observation_chars: int = 30000):
        self.fn_calling = fn_calling
        self.max_observation_chars = max_observation_chars
        self.mode = "fn" if fn_calling else "text"

    @property
    def tools(self) -> list[dict] | None:
        return [dict(t) for t in r2egym_tools()] if self.fn_calling else None

    @property
    def system_template(self) -> str:
        return prompt(f"r2egym_{self.mode}_system.txt")

    @property
    def instance_template(self) -> str:
        return prompt(f"r2egym_{self.mode}_instance.txt")

    def initial_messages(self, problem_statement: str, workdir: str) -> list[dict]:
        return [{"role": "system", "content": fill(self.system_template, workdir=workdir)},
                {"role": "user", "content": fill(self.instance_template, problem_statement=problem_statement,
                                                 workdir=workdir)}]

    def before_query(self, messages: list[dict], steps_remaining: int) -> None:
        if steps_remaining > 0:
            note = f"Steps Remaining: {steps_remaining}"
        else:
            note = "You have reached the maximum number of steps. Please submit your answer NOW."
        messages[-1]["content"] = f"{messages[-1].get('content') or ''}\n{note}"

    def interpret(self, message: dict) -> Decision:
        content = message.get("content") or ""
        if self.fn_calling:
            calls = message.get("tool_calls") or []
            kept = {**message, "content": content}
            if calls:
                kept["tool_calls"] = calls[:1]  # one call per step, as R2E-Gym does
            if not calls:
                return Decision(content, Action(), Action().to_xml_string(), kept, "no function call")
            action, error = parse_tool_call(calls[0])
            error = error or self._check(action)
            return Decision(content, action, action.to_xml_string(), kept, error, calls[0])
        thought, action = parse_function_text(content)
        if action.empty:
            return Decision(thought, action, action.to_xml_string(), {"role": "assistant", "content": content},
                            "no function call")
        # R2E-Gym keeps the reply re-rendered: the thought, then the one parsed call.
        rendered = {"role": "assistant", "content": f"{thought}\n\n{action.to_xml_string()}"}
        return Decision(thought, action, action.to_xml_string(), rendered, self._check(action))

    def _check(self, action: Action) -> str:
        if action.function_name not in self.tool_names:
            return (f"Invalid Action: input action must be one of allowed actions \n Allowed actions: "
                    f"{list(self.tool_names)} \n Input action: {action.function_name}\t")
        return ""

    def act(self, decision: Decision, sandbox: Sandbox, timeout: float) -> Outcome:
        if decision.error:
            text = prompt("r2egym_format_error.txt") if decision.error == "no function call" else \
                f"ERROR: {decision.error}\n{prompt('r2egym_format_error.txt')}"
            return Outcome(text, info={"format_error": decision.error})
        action = decision.action
        params = action.parameters
        name = action.function_name
        if name == "finish":
            return Outcome(FINISHED, done=True)
        if name == "execute_bash":
            cmd = params.get("cmd", params.get("command"))
            if cmd is None or not str(cmd).strip():
                return Outcome("Execution output of [execute_bash]:\nERROR: Missing required parameter 'cmd'.",
                               info={"exit_code": -1})
            res, stdout, stderr = sandbox.bash_split(str(cmd), timeout)
            return Outcome(self._bash_observation(res, stdout, stderr, timeout),
                           info={"exit_code": res.exit_code, "timed_out": res.timed_out})
        runner = sandbox.file_editor if name == "file_editor" else sandbox.search
        res = runner(dict(params))
        if res.timed_out:
            body = f"The command took too long to execute (>{int(timeout)}s)"
        else:
            body = res.output
        return Outcome(truncate_middle(f"Execution output of [{name}]:\n{body}", self.max_observation_chars),
                       info={"exit_code": res.exit_code})

    def _bash_observation(self, res, stdout: str, stderr: str, timeout: float) -> str:
        if res.timed_out:
            code, body = "-1", f"The command took too long to execute (>{int(timeout)}s)"
        else:
            code = "0" if res.exit_code == 0 else f"Error: Exit code {res.exit_code}"
            head = "Error executing command:\n\n" if res.exit_code != 0 else ""
            body = f"{head}[STDOUT]\n\n{stdout.strip()} \n\n[STDERR]\n\n{stderr.strip()}\n"
            lines = body.splitlines()
            if len(lines) > 2 * BASH_LINES_KEPT:
                divider = "-" * 50
                body = "\n".join([*lines[:BASH_LINES_KEPT], divider,
                                  "<Observation truncated in middle for saving context>", divider,
                                  *lines[-BASH_LINES_KEPT:]])
        text = f"Exit code: {code}\nExecution output of [execute_bash]:\n{body}"
        return truncate_middle(text, self.max_observation_chars)

    def record(self, messages: list[dict], decision: Decision, outcome: Outcome) -> None:
        messages.append(decision.assistant_message)
        if self.fn_calling and decision.tool_call is not None:
            messages.append({"role": "tool", "content": outcome.observation,
                             "name": decision.action.function_name or str(
                                 (decision.tool_call.get("function") or {}).get("name") or ""),
                             "tool_call_id": decision.tool_call.get("id", "")})
        else:
            messages.append({"role": "user", "content": outcome.observation})


class MiniScaffold:
    name = "mini"
    fn_calling = False
    tools = None

    def __init__(self, max_observation_chars: int = 30000):
        self.max_observation_chars = max_observation_chars

    @property
    def system_template(self) -> str:
        return prompt("mini_system.txt")

    @property
    def instance_template(self) -> str:
        return prompt("mini_instance.txt")

    def initial_messages(self, problem_statement: str, workdir: str) -> list[dict]:
        return [{"role": "system", "content": fill(self.system_template, workdir=workdir)},
                {"role": "user", "content": fill(self.instance_template, problem_statement=problem_statement,
                                                 workdir=workdir)}]

    def before_query(self, messages: list[dict], steps_remaining: int) -> None:
        return None  # mini-swe-agent does not remind the model of its budget

    def interpret(self, message: dict) -> Decision:
        content = message.get("content") or ""
        thought, commands = parse_bash_block(content)
        kept = {"role": "assistant", "content": content}
        if len(commands) != 1:
            return Decision(thought, Action(), "", kept, f"expected exactly 1 action, found {len(commands)}",
                            n_actions=len(commands))
        return Decision(thought, Action("bash", {"command": commands[0]}), commands[0], kept)

    def act(self, decision: Decision, sandbox: Sandbox, timeout: float) -> Outcome:
        if decision.error:
            return Outcome(fill(prompt("mini_format_error.txt"), n_actions=decision.n_actions), info={"format_error": decision.error})
        command = decision.action_str
        res = sandbox.bash(command, timeout)
        if res.timed_out:
            text = fill(prompt("mini_timeout.txt"), command=command, output=res.output)
            return Outcome(truncate_middle(text, self.max_observation_chars), info={"exit_code": -1, "timed_out": True})
        lines = res.output.lstrip().splitlines(keepends=True)
        if lines and lines[0].strip() in SUBMIT_MARKERS and res.exit_code == 0:
            return Outcome("".join(lines[1:]), done=True, info={"exit_code": 0})
        return Outcome(self._observation(res.exit_code, res.output), info={"exit_code": res.exit_code})

    def _observation(self, code: int, output: str) -> str:
        if len(output) < MINI_OUTPUT_LIMIT:
            return fill(prompt("mini_observation.txt"), returncode=code, output=output.rstrip())
        half = MINI_OUTPUT_LIMIT // 2
        return fill(prompt("mini_observation_long.txt"), returncode=code, output_head=output[:half],
                    output_tail=output[-half:], elided_chars=len(output) - MINI_OUTPUT_LIMIT)

    def record(self, messages: list[dict], decision: Decision, outcome: Outcome) -> None:
        messages.append(decision.assistant_message)
        messages.append({"role": "user", "content": outcome.observation})


def make_scaffold(name: str, fn_calling: bool = True, max_observation_chars: int = 30000):
    if name == "r2egym":
        return R2EGymScaffold(fn_calling, max_observation_chars)
    if name in ("mini", "mini_swe_agent"):
        return MiniScaffold(max_observation_chars)
    from r2e.errors import R2EUsageError

    raise R2EUsageError(f"unknown scaffold '{name}': choose r2egym or mini")
