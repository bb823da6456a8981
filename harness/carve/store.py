"""The sample store: the experiment's carve/<repo_id>/report.json and samples/<function-folder>.json."""

from __future__ import annotations

from pathlib import Path

from r2e.experiment import Experiment, function_folder
from r2e.fsio import atomic_write_json, read_json
from r2e.stage_records import FunctionRecord

REPORT = "report.json"


class SampleStore:
    def __init__(self, exp: Experiment):
        self.root = exp.carve_dir

    def repo_dir(self, repo_id: str) -> Path:
        return self.root / repo_id

    def report(self, repo_id: str) -> dict | None:
        return read_json(self.repo_dir(repo_id) / REPORT)

    def function_entry(self, record: FunctionRecord) -> dict | None:
        return ((self.report(record.repo) or {}).get("functions") or {}).get(record.id)

    def samples(self, record: FunctionRecord) -> list[dict]:
        return read_json(self.repo_dir(record.repo) / "samples" / f"{function_folder(record.id)}.json") or []

    def has_samples(self, record: FunctionRecord) -> bool:
        entry = self.function_entry(record)
        return bool(entry and entry.get("kept"))

    def save(self, repo_id: str, report: dict, samples: dict[str, list[dict]]) -> None:
        """Samples first, the report last: a report on disk means the repo was carved completely."""
        folder = self.repo_dir(repo_id)
        for fid, kept in samples.items():
            atomic_write_json(folder / "samples" / f"{function_folder(fid)}.json", kept)
        atomic_write_json(folder / REPORT, report)
