"""`--carved-examples`: the LLM prompt gets the function's carved calls as real example inputs."""

from __future__ import annotations

from importlib import resources
from string import Template

from harness.carve.store import SampleStore
from harness.generators import LLMGenerator
from r2e.stage_records import FunctionRecord

MAX_EXAMPLES = 5
EXAMPLE_LIMIT = 400


def examples_text(store: SampleStore, record: FunctionRecord, limit: int = MAX_EXAMPLES) -> str:
    """The prompt section listing carved calls (reprs recorded by the tracer), or "" when none."""
    samples = store.samples(record)
    if not samples:
        return ""
    shown = samples[:limit]
    lines = []
    for sample in shown:
        outcome = sample.get("outcome") or {}
        result = f"raised {outcome.get('type')}" if outcome.get("kind") == "raised" else f"returned a {outcome.get('type')}"
        lines.append(f"- `{sample['repr'][:EXAMPLE_LIMIT]}` -> {result}" + (f" (test {sample['test']})" if sample.get("test") else ""))
    target = record.class_name or record.name
    text = (resources.files("harness.carve") / "data" / "carved_examples.txt").read_text(encoding="utf-8")
    return Template(text).substitute(qualname=record.qualname, count=len(shown), total=len(samples),
                                     reference_name=f"reference_{target}", examples="\n".join(lines)).rstrip("\n")


class ExampleLLMGenerator(LLMGenerator):
    """The LLM generator whose first prompt also lists the function's carved calls."""

    def __init__(self, base: LLMGenerator, store: SampleStore):
        super().__init__(base.client, n=base.n, temperature=base.temperature, max_tokens=base.max_tokens)
        self.store = store

    def messages(self, record: FunctionRecord, previous) -> list[dict]:
        messages = super().messages(record, previous)
        extra = examples_text(self.store, record)
        if extra:
            first = next(i for i, m in enumerate(messages) if m["role"] == "user")
            messages[first] = {**messages[first], "content": f"{messages[first]['content']}\n\n{extra}"}
        return messages
