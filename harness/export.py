"""`r2e export`: one problem per valid function, as JSONL that HF `datasets` loads.

Every row has the same keys and value types (datasets infers one schema from the file), so optional
values are empty strings / empty lists rather than missing.
"""

from __future__ import annotations

from pathlib import Path

from harness.environments import build_result
from harness.genexec import GENEXEC_FILE
from harness.records import FunctionRecord
from r2e.errors import R2EError
from r2e.fsio import atomic_write_jsonl, read_json
from r2e.workspace import Workspace

SCHEMA_VERSION = 1


def problem_rows(ws: Workspace, exp: str, records: list[FunctionRecord], min_cov: float = 0.0) -> list[dict]:
    doc = read_json(ws.experiment_dir(exp) / GENEXEC_FILE)
    if doc is None:
        raise R2EError(f"no {GENEXEC_FILE} in experiment '{exp}' (run `r2e genexec -e {exp}` first)")
    by_id = {r.id: r for r in records}
    rows = []
    for fid, entry in sorted(doc.get("functions", {}).items()):
        record = by_id.get(fid)
        if record is None or not entry.get("valid") or not entry.get("test"):
            continue
        cov = entry.get("coverage") or {}
        if float(cov.get("branch_coverage") or 0.0) < min_cov:
            continue
        build = build_result(ws, exp, record.repo) or {}
        rows.append({
            "schema_version": SCHEMA_VERSION,
            "id": fid,
            "repo": record.repo,
            "path": record.path,
            "module": record.module,
            "name": record.name,
            "class_name": record.class_name or "",
            "kind": record.kind,
            "image": build.get("image") or "",
            "python": str(build.get("python") or ""),
            "signature": record.signature,
            "docstring": record.docstring,
            "context": record.context,
            "reference_code": record.code,
            "start_line": int(record.start_line),
            "end_line": int(record.end_line),
            "harness": entry["test"],
            "branch_coverage": float(cov.get("branch_coverage") or 0.0),
            "line_coverage": float(cov.get("line_coverage") or 0.0),
            "num_branches": int(cov.get("num_branches") or 0),
            "covered_branches": int(cov.get("covered_branches") or 0),
            "missing_branches": [[int(a), int(b)] for a, b in cov.get("missing_branches") or []],
        })
    return rows


def export_dataset(ws: Workspace, exp: str, records: list[FunctionRecord], out: Path, min_cov: float = 0.0) -> int:
    rows = problem_rows(ws, exp, records, min_cov)
    atomic_write_jsonl(out, rows)
    return len(rows)
