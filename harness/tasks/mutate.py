"""Seeded procedural mutations of one function, found on its tree-sitter tree.

A strategy finds *sites* in the function's body (never its signature or docstring) on lines the
tests executed; each site is one byte-range replacement of the file. `pick` chooses up to N sites per
function with a random generator seeded by (seed, function id), round-robin over strategies, so the
same inputs always give the same mutations.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

from r2e.errors import R2EUsageError

STRATEGIES_FILE = Path(__file__).with_name("strategies.json")
_NUMBER = re.compile(r"^(0|[1-9][0-9_]*)$|^[0-9]*\.[0-9]+$|^[0-9]+\.[0-9]*$")


@dataclass(frozen=True)
class Edit:
    """One mutation: replace bytes [start, end) of the file with `text`."""

    strategy: str
    start: int
    end: int
    text: str
    line: int  # 1-based line of the mutated code
    what: str  # a short description: "`<` -> `<=`"

    @property
    def key(self) -> str:
        return hashlib.sha1(f"{self.strategy}:{self.start}:{self.end}:{self.text}".encode()).hexdigest()[:8]


@lru_cache(maxsize=1)
def strategy_table() -> dict:
    return json.loads(STRATEGIES_FILE.read_text(encoding="utf-8"))["strategies"]


def strategy_names(model: bool = False) -> tuple[str, ...]:
    """The procedural strategies, and those that need a model when one is configured."""
    return tuple(n for n, spec in strategy_table().items() if model or not spec.get("needs_model"))


def parse_strategies(text: str | None, model: bool = False) -> tuple[str, ...]:
    """`--strategies a,b`: known names in the given order; an unknown one is a usage error."""
    if not text:
        return strategy_names(model)
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in strategy_table()]
    if unknown or not names:
        raise R2EUsageError(f"unknown mutation strategy '{(unknown or [text])[0]}' "
                            f"(known: {', '.join(strategy_names(True))})")
    needs = [n for n in names if strategy_table()[n].get("needs_model") and not model]
    if needs:
        raise R2EUsageError(f"strategy '{needs[0]}' needs a model: give --model (and --base-url)")
    return names


@lru_cache(maxsize=1)
def _parser():
    import tree_sitter_python as tsp
    from tree_sitter import Language, Parser

    return Parser(Language(tsp.language()))


def find_function(data: bytes, start_line: int):
    """The function_definition node whose `def` is on `start_line` (1-based), or None."""
    tree = _parser().parse(data)
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "function_definition" and node.start_point[0] == start_line - 1:
            return node
        if node.start_point[0] <= start_line - 1 <= node.end_point[0]:
            stack.extend(node.children)
    return None


def sites(data: bytes, start_line: int, strategies: tuple[str, ...],
          covered: set[int] | None = None) -> list[Edit]:
    """Every mutation site of the function defined on `start_line`, restricted to `covered` lines when given."""
    fn = find_function(data, start_line)
    if fn is None:
        return []
    body = fn.child_by_field_name("body")
    if body is None:
        return []
    skip = _docstring(body)
    found: list[Edit] = []
    for name in strategies:
        if name not in FINDERS:
            continue  # the model's strategies are not found on the tree
        for edit in FINDERS[name](data, body, strategy_table()[name]):
            if skip is not None and skip.start_byte <= edit.start < skip.end_byte:
                continue
            if covered is not None and edit.line not in covered:
                continue
            found.append(edit)
    return found


def pick(edits: list[Edit], n: int, seed: int, function_id: str) -> list[Edit]:
    """Up to n edits, seeded by (seed, function id), taking strategies in turn so each gets its share."""
    rng = random.Random(f"{seed}:{function_id}")
    by_strategy: dict[str, list[Edit]] = {}
    for edit in edits:
        by_strategy.setdefault(edit.strategy, []).append(edit)
    for group in by_strategy.values():
        rng.shuffle(group)
    order = sorted(by_strategy)
    rng.shuffle(order)
    chosen: list[Edit] = []
    while len(chosen) < n and any(by_strategy.values()):
        for name in order:
            if by_strategy[name] and len(chosen) < n:
                chosen.append(by_strategy[name].pop())
    return chosen


def apply(data: bytes, edit: Edit) -> bytes:
    return data[:edit.start] + edit.text.encode("utf-8") + data[edit.end:]


# ---------------------------------------------------------------------------------------- finders
def _walk(node) -> Iterator:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def _text(node) -> str:
    return node.text.decode("utf-8", errors="replace")


def _line(node) -> int:
    return node.start_point[0] + 1


def _docstring(body):
    first = next((c for c in body.named_children if c.type != "comment"), None)
    if first is not None and first.type == "expression_statement" and first.named_child_count == 1 \
            and first.named_children[0].type in ("string", "concatenated_string"):
        return first
    return None


def _operator_edits(data: bytes, body, table: dict, strategy: str, kinds: dict[str, str]) -> Iterator[Edit]:
    for node in _walk(body):
        kind = kinds.get(node.type)
        if kind is None or kind not in table:
            continue
        ops = node.children_by_field_name("operators") if node.type == "comparison_operator" \
            else [node.child_by_field_name("operator")]
        for op in ops:
            if op is None:
                continue
            word = " ".join(_text(op).split())
            new = table[kind].get(word)
            if new:
                yield Edit(strategy, op.start_byte, op.end_byte, new, _line(op), f"`{word}` -> `{new}`")


def swap_operator(data: bytes, body, table: dict) -> Iterator[Edit]:
    kinds = {"binary_operator": "binary", "comparison_operator": "comparison", "boolean_operator": "boolean"}
    yield from _operator_edits(data, body, table, "swap_operator", kinds)
    for node in _walk(body):  # `x += 1` -> `x -= 1`: the binary table with `=` appended
        if node.type == "augmented_assignment":
            op = node.child_by_field_name("operator")
            word = _text(op) if op is not None else ""
            new = table["binary"].get(word[:-1])
            if new:
                yield Edit("swap_operator", op.start_byte, op.end_byte, new + "=", _line(op), f"`{word}` -> `{new}=`")


def off_by_one(data: bytes, body, table: dict) -> Iterator[Edit]:
    yield from _operator_edits(data, body, table, "off_by_one", {"comparison_operator": "comparison"})
    ranges = set(table.get("range_functions", ()))
    for node in _walk(body):
        targets = []
        if node.type == "slice":
            targets = [c for c in node.named_children if c.type != "comment"][:2]
        elif node.type == "call" and _text(node.child_by_field_name("function")) in ranges:
            args = node.child_by_field_name("arguments")
            if args is not None:
                targets = [a for a in args.named_children if a.type not in ("keyword_argument", "comment")][:2]
        for target in targets:
            if target.type in ("list_splat", "dictionary_splat"):
                continue
            text = _text(target)
            if target.type == "integer" and text.isdigit():
                new = str(int(text) + 1)
            elif target.type in ("identifier", "attribute", "call", "subscript"):
                new = f"{text} + 1"
            elif target.type == "binary_operator" and re.fullmatch(r"(.+?)\s*([+-])\s*1", text, re.S):
                new = re.fullmatch(r"(.+?)\s*[+-]\s*1", text, re.S).group(1)  # `n - 1` -> `n`
            else:
                continue
            yield Edit("off_by_one", target.start_byte, target.end_byte, new, _line(target), f"`{text}` -> `{new}`")


def _line_start(data: bytes, pos: int) -> int:
    return data.rfind(b"\n", 0, pos) + 1


def _removable(data: bytes, node) -> tuple[int, int] | None:
    """The byte range that removes `node`'s lines whole, or None when it shares a line with other code."""
    start = _line_start(data, node.start_byte)
    if data[start:node.start_byte].strip():
        return None
    end = data.find(b"\n", node.end_byte)
    end = len(data) if end < 0 else end + 1
    rest = data[node.end_byte:end].strip()
    if rest and not rest.startswith(b"#"):
        return None
    return start, end


def drop_branch(data: bytes, body, table: dict) -> Iterator[Edit]:
    for node in _walk(body):
        if node.type == "if_statement":
            block = node.child_by_field_name("consequence")
            if block is not None and _text(block).strip() != "pass":
                first = block.named_children[0] if block.named_children else block
                yield Edit("drop_branch", block.start_byte, block.end_byte, "pass", _line(first),
                           f"the body of `if` on line {_line(node)} -> `pass`")
        elif node.type in ("elif_clause", "else_clause") and node.parent is not None \
                and node.parent.type == "if_statement":
            span = _removable(data, node)
            block = node.child_by_field_name("consequence") or node.child_by_field_name("body")
            if span is not None and block is not None and block.named_children:
                word = "elif" if node.type == "elif_clause" else "else"
                yield Edit("drop_branch", span[0], span[1], "", _line(block.named_children[0]),
                           f"the `{word}` clause on line {_line(node)} removed")


def swap_arguments(data: bytes, body, table: dict) -> Iterator[Edit]:
    for node in _walk(body):
        if node.type != "call":
            continue
        args = node.child_by_field_name("arguments")
        if args is None or args.type != "argument_list":
            continue
        positional = [a for a in args.named_children if a.type != "comment"]
        positional = positional[:next((i for i, a in enumerate(positional)
                                       if a.type in ("keyword_argument", "list_splat", "dictionary_splat")),
                                      len(positional))]
        if len(positional) < 2:
            continue
        a, b = positional[0], positional[1]
        ta, tb = _text(a), _text(b)
        if ta == tb:
            continue
        new = tb + data[a.end_byte:b.start_byte].decode("utf-8", errors="replace") + ta
        yield Edit("swap_arguments", a.start_byte, b.end_byte, new, _line(a), f"`{ta}` and `{tb}` swapped")


def change_constant(data: bytes, body, table: dict) -> Iterator[Edit]:
    booleans = table.get("booleans", {})
    for node in _walk(body):
        text = _text(node)
        if node.type == "integer" and _NUMBER.match(text) and "." not in text:
            value = int(text.replace("_", ""))
            new = "1" if value == 0 else ("0" if value == 1 else str(value + 1))
        elif node.type == "float" and _NUMBER.match(text):
            new = repr(float(text) * 2 if float(text) else 1.0)
        elif node.type in ("true", "false") and text in booleans:
            new = booleans[text]
        else:
            continue
        yield Edit("change_constant", node.start_byte, node.end_byte, new, _line(node), f"`{text}` -> `{new}`")


def remove_statement(data: bytes, body, table: dict) -> Iterator[Edit]:
    kinds = set(table.get("statement_types", ()))
    for node in _walk(body):
        if node.type != "block":
            continue
        statements = [c for c in node.named_children if c.type != "comment"]
        doc = _docstring(node)
        statements = [s for s in statements if s is not doc]
        if len(statements) < 2:
            continue  # removing the only statement leaves an empty block
        for stmt in statements:
            if stmt.type not in kinds:
                continue
            span = _removable(data, stmt)
            if span is None:
                continue
            first = " ".join(_text(stmt).split())[:60]
            yield Edit("remove_statement", span[0], span[1], "", _line(stmt), f"`{first}` removed")


FINDERS: dict[str, Callable[[bytes, object, dict], Iterator[Edit]]] = {
    "swap_operator": swap_operator,
    "off_by_one": off_by_one,
    "drop_branch": drop_branch,
    "swap_arguments": swap_arguments,
    "change_constant": change_constant,
    "remove_statement": remove_statement,
}
