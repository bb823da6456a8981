"""The model's mutation: the whole function rewritten "with one subtle bug" (prompt: rewrite_prompt.md).

The answer is kept only if it parses, defines the same function name and differs from the original;
it replaces the function's definition (decorators kept), re-indented to the original's column.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from harness.tasks.mutate import Edit, _parser, find_function

PROMPT_FILE = Path(__file__).with_name("rewrite_prompt.md")
_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.S)


def prompt(code: str) -> str:
    return PROMPT_FILE.read_text(encoding="utf-8").format(code=textwrap.dedent(code))


def ask(client, code: str) -> str:
    result = client.chat([{"role": "user", "content": prompt(code)}], purpose="generate", temperature=0.7)
    return result.text


def edit_from_answer(data: bytes, start_line: int, answer: str) -> tuple[Edit | None, str]:
    """(the edit that puts the model's function in place of the original, "") or (None, why not)."""
    fn = find_function(data, start_line)
    if fn is None:
        return None, "function not found"
    m = _BLOCK.search(answer or "")
    if not m:
        return None, "no code block"
    new = textwrap.dedent(m.group(1)).strip("\n")
    new_start = re.search(r"^(async\s+)?def\s", new, re.M)
    if not new_start:
        return None, "no function in the answer"
    new = new[new_start.start():]  # the original's decorators stay where they are
    column = fn.start_point[1]
    indented = textwrap.indent(new, " " * column)[column:]
    text = data[:fn.start_byte] + indented.encode("utf-8") + data[fn.end_byte:]
    tree = _parser().parse(text)
    if tree.root_node.has_error:
        return None, "the rewrite does not parse"
    again = find_function(text, start_line)
    name = fn.child_by_field_name("name").text
    if again is None or again.child_by_field_name("name").text != name:
        return None, "the rewrite renames the function"
    if indented.split() == data[fn.start_byte:fn.end_byte].decode("utf-8", "replace").split():
        return None, "the rewrite changes nothing"
    return Edit("llm_rewrite", fn.start_byte, fn.end_byte, indented, start_line + 1, "rewritten by the model"), ""
