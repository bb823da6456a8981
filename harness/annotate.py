"""The function's source with its file line numbers and the branches coverage says were never taken."""

from __future__ import annotations

from r2e.stage_records import Coverage, FunctionRecord


def annotate_uncovered(record: FunctionRecord, coverage: Coverage | None) -> str:
    """Number each line of `record.code` with its 1-based file line (the code starts at start_line).

    A line that is the source of a missing branch gets `# NOT COVERED: -> line N` (or `-> exit`),
    a line never run gets `# NOT EXECUTED`.
    """
    coverage = coverage or Coverage()
    missing_arcs: dict[int, list[int]] = {}
    for src, dest in coverage.missing("missing_branches"):
        missing_arcs.setdefault(src, []).append(dest)
    missing_lines = set(coverage.missing("missing_lines"))
    lines = record.code.splitlines()
    width = len(str(record.start_line + len(lines)))
    out = []
    for offset, text in enumerate(lines):
        lineno = record.start_line + offset
        notes = []
        if lineno in missing_arcs:
            targets = ", ".join("exit" if d < 0 else f"line {d}" for d in sorted(missing_arcs[lineno], key=abs))
            notes.append(f"NOT COVERED: never went to {targets}")
        if lineno in missing_lines:
            notes.append("NOT EXECUTED")
        suffix = f"  # {'; '.join(notes)}" if notes else ""
        out.append(f"{lineno:>{width}} | {text}{suffix}")
    return "\n".join(out)
