"""Where harnesses come from: an LLM, or the deterministic offline generator shipped with r2e.

Every generator follows `HarnessGenerator`; carving (harness.carve.generator) adds one more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from string import Template
from typing import Protocol

from harness.prompting import code_problem, extract_code, feedback_message, initial_messages
from r2e.llm import LLMAuthError, LLMError
from r2e.stage_records import FunctionRecord, HarnessResult


@dataclass
class Generated:
    tests: list[str]  # one test file per sample
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    chat: list[dict] = field(default_factory=list)  # messages + replies, for --save-chat
    error: str | None = None
    # A reply rejected before execution (no code, not Python): shown back to the model with `error`.
    rejected: str | None = None


@dataclass(frozen=True)
class Attempt:
    """The previous round for one function: its test and its execution result."""

    test: str
    result: HarnessResult


class HarnessGenerator(Protocol):
    """Makes equivalence tests for one function; in later rounds it sees the previous attempt.

    `generate` returns failures as data (`Generated.error`); only `LLMAuthError` escapes, since
    no other function can succeed after it.
    """

    name: str  # recorded in genexec.json ("offline", "llm", "carve+offline", ...)

    def generate(self, record: FunctionRecord, previous: Attempt | None, round_no: int) -> Generated: ...


class OfflineGenerator:
    """Builds a harness from the function's signature at run time: a seeded pool of inputs, each
    case compared with the reference. Later rounds use a new seed and more cases."""

    name = "offline"
    base_cases = 300

    def generate(self, record: FunctionRecord, previous: Attempt | None, round_no: int) -> Generated:
        data = resources.files("harness") / "data"
        kind = "method" if record.class_name else "function"
        body = Template((data / f"offline_{kind}_body.tmpl").read_text()).substitute(
            name=record.name, class_name=record.class_name or "")
        target = record.class_name or record.name
        test = Template((data / "offline_harness.py.tmpl").read_text()).substitute(
            qualname=record.qualname, seed=1000 + round_no, cases=self.base_cases * round_no,
            module=record.module, imports=f"{target}, reference_{target}", body=body.rstrip("\n"))
        return Generated([test])


class LLMGenerator:
    """Asks a chat model; in later rounds the conversation continues with feedback on the last test."""

    name = "llm"

    def __init__(self, client, n: int = 1, temperature: float = 0.0, max_tokens: int | None = None):
        self.client, self.n, self.temperature, self.max_tokens = client, n, temperature, max_tokens

    def messages(self, record: FunctionRecord, previous: Attempt | None) -> list[dict]:
        messages = initial_messages(record)
        if previous is not None:
            messages += [{"role": "assistant", "content": f"```python\n{previous.test}```"},
                         {"role": "user", "content": feedback_message(record, previous.result)}]
        return messages

    def generate(self, record: FunctionRecord, previous: Attempt | None, round_no: int) -> Generated:
        """A test per sample; a failed call, or replies with no usable Python, is a generation failure
        with its reason (the model's answers are data, never a crash)."""
        messages = self.messages(record, previous)
        temperature = self.temperature if self.n == 1 else max(self.temperature, 0.7)
        try:
            reply = self.client.chat(messages, n=self.n, temperature=temperature, max_tokens=self.max_tokens,
                                     purpose="generate")
        except LLMAuthError:
            raise  # retrying other functions cannot help: the loop stops
        except LLMError as exc:  # includes LLMUnavailable: the breaker is open, fail at once
            return Generated([], chat=messages, error=str(exc))
        chat = messages + [{"role": "assistant", "content": t} for t in reply.texts]
        codes = [extract_code(t) for t in reply.texts]
        problems = [code_problem(c) for c in codes]
        tests = [c for c, problem in zip(codes, problems) if problem is None]
        generated = Generated(tests, reply.prompt_tokens, reply.completion_tokens, reply.cached, chat)
        if not tests:
            cut = " (the answer was cut at max_tokens)" if reply.truncated else ""
            generated.error = f"{problems[0] if problems else 'the reply holds no code'}{cut}"
            generated.rejected = codes[0] if codes else ""
        return generated
