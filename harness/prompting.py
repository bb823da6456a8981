"""Prompts are template files under harness/prompts/ ($-placeholders); this module only fills them."""

from __future__ import annotations

import re
from importlib import resources
from string import Template

from harness.annotate import annotate_uncovered
from r2e.stage_records import Coverage, FunctionRecord, HarnessResult

ERROR_LIMIT = 3000
_CODE_BLOCK = re.compile(r"```(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL)
_OPEN_BLOCK = re.compile(r"```(?:python|py|python3)?[ \t]*\n")


def template(name: str) -> Template:
    return Template((resources.files("harness") / "prompts" / f"{name}.txt").read_text(encoding="utf-8"))


def names(record: FunctionRecord) -> dict[str, str]:
    target = record.class_name or record.name
    return {"qualname": record.qualname, "path": record.path, "repo": record.repo, "module": record.module,
            "target_name": target, "reference_name": f"reference_{target}",
            "test_class": "".join(p.capitalize() for p in record.qualname.replace(".", "_").split("_")) or "Function"}


def starter_code(record: FunctionRecord) -> str:
    return template("starter").substitute(names(record))


def initial_messages(record: FunctionRecord) -> list[dict]:
    user = template("generate").substitute(
        names(record), context=record.context or "# (no dependencies)", code=record.code,
        starter=starter_code(record))
    return [{"role": "system", "content": template("system").substitute()},
            {"role": "user", "content": user}]


def feedback_message(record: FunctionRecord, result: HarnessResult) -> str:
    """What to tell the model about its last test: timeout, errors, or the uncovered branches."""
    if result.status == "timeout":
        detail = "; ".join(result.reasons) or "timed out"
        return template("feedback_timeout").substitute(names(record), detail=detail)
    if result.status == "valid":
        cov = result.coverage or Coverage()
        total, covered = cov.num_branches or 0, cov.covered_branches or 0
        return template("feedback_coverage").substitute(
            names(record), covered=covered, total=total,
            percent=round(100 * covered / total) if total else 100,
            annotated=annotate_uncovered(record, cov))
    return template("feedback_invalid").substitute(names(record), errors=trimmed_errors(result))


def trimmed_errors(result: HarnessResult) -> str:
    parts = list(result.reasons)
    if result.load_error:
        parts.append(result.load_error)
    for test in result.tests:
        if test.get("outcome") not in ("passed", "skipped"):
            parts.append(f"{test['id']}: {test['outcome']}\n{test.get('message', '')}")
    if not parts and result.output:
        parts.append(result.output)
    text = "\n".join(parts)
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT // 3] + "\n...\n" + text[-2 * ERROR_LIMIT // 3:]


def extract_code(reply: str) -> str:
    """The test file in a reply: the longest ```python block, else an unclosed block's text (a reply cut
    at max_tokens), else the whole reply."""
    reply = reply or ""
    blocks = _CODE_BLOCK.findall(reply)
    if blocks:
        return max(blocks, key=len).strip() + "\n"
    opened = _OPEN_BLOCK.search(reply)
    return (reply[opened.end():] if opened else reply).strip() + "\n"


def code_problem(code: str) -> str | None:
    """Why `code` cannot be a test file (empty, or not Python), or None. Checked before spending an
    execution on it: small models answer with prose, half a file, or nothing."""
    if not code.strip():
        return "the reply holds no code"
    try:
        compile(code, "test.py", "exec")
    except SyntaxError as exc:
        return f"the reply is not a Python file: SyntaxError: {exc.msg} (line {exc.lineno})"
    except (ValueError, OverflowError) as exc:  # NUL bytes, absurd literals
        return f"the reply is not a Python file: {type(exc).__name__}: {exc}"
    return None
