"""`r2e export`: one problem per valid function, as JSONL that HF `datasets` loads.

Every row has the same keys and value types (datasets infers one schema from the file), so optional
values are empty strings / empty lists rather than missing.
"""

from __future__ import annotations

from pathlib import Path

from r2e.experiment import Experiment
from r2e.stage_records import Coverage, FunctionRecord

SCHEMA_VERSION = 1


def problem_rows(exp: Experiment, records: list[FunctionRecord], min_cov: float = 0.0) -> list[dict]:
    doc = exp.genexec_doc(required=True)
    by_id = {r.id: r for r in records}
    rows = []
    for fid, entry in sorted(doc.functions.items()):
        record = by_id.get(fid)
        if record is None or not entry.valid or not entry.test:
            continue
        cov = entry.coverage or Coverage()
        if float(cov.branch_coverage or 0.0) < min_cov:
            continue
        build = exp.build_result(record.repo)
        rows.append({
            "schema_version": SCHEMA_VERSION,
            "id": fid,
            "repo": record.repo,
            "path": record.path,
            "module": record.module,
            "name": record.name,
            "class_name": record.class_name or "",
            "kind": record.kind,
            "image": (build.image if build else None) or "",
            "python": str((build.python if build else None) or ""),
            "signature": record.signature,
            "docstring": record.docstring,
            "context": record.context,
            "reference_code": record.code,
            "start_line": int(record.start_line),
            "end_line": int(record.end_line),
            "harness": entry.test,
            "branch_coverage": float(cov.branch_coverage or 0.0),
            "line_coverage": float(cov.line_coverage or 0.0),
            "num_branches": int(cov.num_branches or 0),
            "covered_branches": int(cov.covered_branches or 0),
            "missing_branches": [[int(a), int(b)] for a, b in cov.missing("missing_branches")],
        })
    return rows


def export_dataset(exp: Experiment, records: list[FunctionRecord], out: Path | None = None,
                   min_cov: float = 0.0) -> tuple[int, Path]:
    """Write the problems to `out` (default: the experiment's problems.jsonl); (count, path)."""
    rows = problem_rows(exp, records, min_cov)
    return len(rows), exp.write_problems(rows, out)
