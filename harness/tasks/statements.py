"""Problem statements for tasks: offline (deterministic) or written by a model, never leaking the fix.

Offline: the affected public API (name, signature, docstring) and the failing tests' first message
lines. With a model: an issue written from the same material (prompt in statement_prompt.md). Either
is checked by `leaks`: no line of the fix, no test name, no diff syntax; a leaking model answer is
dropped (the offline statement is used), a leaking offline statement rejects the task.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.tasks.diffs import changed_lines
from r2e.stage_records import FunctionRecord

PROMPT_FILE = Path(__file__).with_name("statement_prompt.md")
MAX_OBSERVATIONS = 5
MIN_LEAK_LINE = 6  # shorter changed lines (`pass`, `else:`) are too common to mean anything
_DIFF_SYNTAX = re.compile(r"^(diff --git|@@ |--- a/|\+\+\+ b/)", re.M)


def test_names(test_ids) -> set[str]:
    """The function names of test ids (`tests/t.py::TestX::test_y[1]` -> test_y, TestX)."""
    names = set()
    for test_id in test_ids:
        for part in test_id.split("::")[1:] or [test_id.rsplit(".", 1)[-1]]:
            name = part.split("[", 1)[0].strip()
            if len(name) >= 4:
                names.add(name)
    return names


def leaks(statement: str, fix_patch: str, test_ids) -> list[str]:
    """What in `statement` gives the task away: fix lines, test names, diff syntax ([] when nothing)."""
    found = []
    flat = " ".join(statement.split())
    if _DIFF_SYNTAX.search(statement):
        found.append("diff syntax")
    for line in changed_lines(fix_patch):
        code = " ".join(line.split())
        if len(code) >= MIN_LEAK_LINE and any(c.isalnum() for c in code) and code in flat:
            found.append(f"code line `{code}`")
    for name in sorted(test_names(test_ids)):
        if re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", statement):
            found.append(f"test name `{name}`")
    return found


def observations(messages: dict[str, str], f2p, fix_patch: str, test_ids) -> list[str]:
    """The failing tests' messages worth showing: distinct, non-leaking, at most MAX_OBSERVATIONS."""
    seen: list[str] = []
    for test_id in f2p:
        message = " ".join((messages.get(test_id) or "").split())[:300]
        if message and message not in seen and not leaks(message, fix_patch, test_ids):
            seen.append(message)
        if len(seen) >= MAX_OBSERVATIONS:
            break
    return seen


def api_of(fn: FunctionRecord) -> tuple[str, str, str]:
    """(qualified name, signature, docstring) of the affected function."""
    signature = (fn.signature or f"def {fn.name}(...)").strip().rstrip(":")
    return fn.qualname, signature, (fn.docstring or "").strip()


def offline_statement(fn: FunctionRecord, seen: list[str], n_failing: int) -> str:
    qualname, signature, docstring = api_of(fn)
    lines = [f"`{qualname}` in `{fn.module}` does not behave as documented", "",
             f"The function `{signature}`"]
    if docstring:
        lines[-1] += " is documented as:"
        lines += [""] + [f"> {d}" if d else ">" for d in docstring.splitlines()]
    else:
        lines[-1] += " gives wrong results."
    lines.append("")
    if seen:
        lines.append("Code that uses it now fails like this:")
        lines += [f"- {m}" for m in seen]
    else:
        lines.append(f"{n_failing} check(s) of its behaviour fail.")
    lines += ["", f"Expected: `{qualname}` behaves as its documentation and its callers expect."]
    return "\n".join(lines) + "\n"


def llm_prompt(fn: FunctionRecord, seen: list[str]) -> str:
    qualname, signature, docstring = api_of(fn)
    return PROMPT_FILE.read_text(encoding="utf-8").format(
        qualname=qualname, module=fn.module, signature=signature, docstring=docstring or "(none)",
        observations="\n".join(f"- {m}" for m in seen) or "- (its results are wrong)")


def llm_statement(client, fn: FunctionRecord, seen: list[str]) -> str:
    """The model's issue text (stripped); raises the client's errors."""
    result = client.chat([{"role": "system", "content": "You write clear, concise bug reports."},
                          {"role": "user", "content": llm_prompt(fn, seen)}], purpose="statement")
    return result.text.strip()
