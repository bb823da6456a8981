"""Writes the carved equivalence harness for one function from its kept samples."""

from __future__ import annotations

import re
from importlib import resources
from string import Template

from harness import sandbox
from r2e.stage_records import FunctionRecord

MARKER = "# r2e-carved-harness"
MAX_HARNESS_BYTES = 1_500_000  # samples beyond this are left out of the harness


def compare_source() -> str:
    text = sandbox.script("compare.py")
    return _strip_docstring(text).strip("\n")


def _strip_docstring(text: str) -> str:
    return re.sub(r'\A""".*?"""\n', "", text, count=1, flags=re.S)


def write_harness(record: FunctionRecord, samples: list[dict]) -> str:
    """A unittest file replaying `samples` against the function and its reference copy."""
    rows, size = [], 0
    for sample in samples:
        row = f'    ("{sample["sha"]}", "{sample["inputs"]}"),\n'
        if rows and size + len(row) > MAX_HARNESS_BYTES:
            break
        rows.append(row)
        size += len(row)
    if record.class_name:
        if "." in record.class_name:  # the runner makes reference copies of top-level classes only
            raise ValueError(f"{record.id}: methods of nested classes are not carved")
        target = record.class_name
        targets = (f"    return carve_member({target}, {record.name!r}), "
                   f"carve_member(reference_{target}, {record.name!r})")
    else:
        target = record.name
        targets = f"    return {record.name}, reference_{record.name}"
    template = Template((resources.files("harness.carve") / "data" / "carved_harness.py.tmpl").read_text())
    return template.substitute(qualname=record.qualname, module=record.module, imports=f"{target}, reference_{target}",
                               compare=compare_source(), samples="".join(rows), targets=targets)


def is_carved(test: str | None) -> bool:
    return bool(test) and MARKER in test


def without_samples(test: str, prefixes: set[str]) -> str:
    """The harness with the rows of the given samples (8-hex sha prefixes) removed."""
    keep = [line for line in test.splitlines(keepends=True)
            if not (line.startswith('    ("') and line[6:14] in prefixes)]
    return "".join(keep)


def merge(generated: str, carved: str) -> str:
    """One test file with a generated test's classes and the carved samples' class.

    The generated file comes first (its `from __future__` lines must stay at the top); the carved
    block follows with its docstring removed. Carved names are prefixed (`carve_`, `CARVED_`,
    `TestCarvedSamples`) so neither side overrides the other's helpers.
    """
    body = carved.replace(MARKER + "\n", "", 1)
    body = _strip_docstring(body)
    return f"{generated.rstrip()}\n\n\n{MARKER} (merged: the samples below were carved from the repo's tests)\n{body}"
