"""`Experiment`: the one owner of an experiment's folder.

Every stage gets its files here, as paths and as typed readers and writers, so the layout is
spelled once::

    experiments/<exp>/
      manifest.json                       the repositories (r2e setup)
      extracted.jsonl                     FunctionRecord per line (r2e extract)
      extract_summary.json, extract/      per-repo extraction output and summaries
      build/<repo_id>/result.json         BuildResult (r2e build), beside install.log, plan.json,
                                          Dockerfile, repairs.json, run_tests.sh, venv/ (see BuildFiles)
      build.json                          the build summary
      carve/<repo_id>/                    samples carved from the repo's own tests (r2e carve)
      tests/<function-folder>/            test.py and its HarnessResult result.json (r2e genexec)
      genexec.json                        GenexecRun: the loop's state, a GenexecEntry per function (r2e genexec)
      problems.jsonl                      the exported dataset (r2e export)
      tasks/<repo_id>/                    task making: coverage, clean baseline, one record per candidate
      tasks.jsonl, tasks_summary.json     TaskInstance per valid task, counts and rejections (r2e tasks)
      perf/                               r2e perf: candidates.jsonl, harnesses.jsonl + harnesses/,
                                          measurements.jsonl, tasks.jsonl, table.{md,html,json,png}
      report/                             r2e report
      schemas.json                        the schema version each record file was written with

Writes are atomic (temp file + rename). A missing or unreadable stage file raises `StageFileError`:
one line naming the file and the command that makes it; nothing on disk changes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from r2e.errors import R2EError
from r2e.fsio import atomic_write_bytes, atomic_write_json, atomic_write_jsonl, atomic_write_text, file_lock
from r2e.stage_records import (BuildResult, FunctionRecord, GenexecRun, HarnessResult, PerfCandidate,
                               PerfHarness, PerfMeasurement, PerfTask, RecordError, TaskInstance)
from r2e.workspace import Manifest, RepoRecord, Workspace, check_experiment_name

T = TypeVar("T")

# The schema version each record file is written with; a reader refuses files from a newer r2e.
SCHEMAS = {
    "manifest": 1,
    "extracted": 1,
    "build_result": 1,
    "build_summary": 1,
    "harness_result": 1,
    "genexec": 1,
    "problems": 1,
    "tasks": 1,
    "tasks_summary": 1,
    "perf_candidates": 1,
    "perf_harnesses": 1,
    "perf_measurements": 1,
    "perf_tasks": 1,
}
SCHEMAS_FILE = "schemas.json"

# The command that makes each stage file, named in the error when it is missing or corrupt.
MAKERS = {
    "manifest": "r2e setup -e {exp}",
    "extracted": "r2e extract -e {exp}",
    "build_result": "r2e build -e {exp}",
    "build_summary": "r2e build -e {exp}",
    "harness_result": "r2e genexec -e {exp}",
    "genexec": "r2e genexec -e {exp}",
    "problems": "r2e export -e {exp}",
    "tasks": "r2e tasks mutate -e {exp}",
    "tasks_summary": "r2e tasks mutate -e {exp}",
    "perf_candidates": "r2e perf mine -e {exp}",
    "perf_harnesses": "r2e perf harness -e {exp}",
    "perf_measurements": "r2e perf measure -e {exp}",
    "perf_tasks": "r2e perf export -e {exp}",
}

# perf record files: kind -> (file name under perf/, record class)
PERF_FILES = {
    "perf_candidates": ("candidates.jsonl", PerfCandidate),
    "perf_harnesses": ("harnesses.jsonl", PerfHarness),
    "perf_measurements": ("measurements.jsonl", PerfMeasurement),
    "perf_tasks": ("tasks.jsonl", PerfTask),
}

# extracted.jsonl's key order; language-specific keys (C `is_static`) follow
EXTRACTED_KEYS = ("id", "repo", "path", "lang", "kind", "name", "class_name", "start_line", "end_line", "is_async",
                  "decorators", "code", "docstring", "signature", "callees", "context", "context_tokens",
                  "file_tokens", "context_files", "context_trimmed")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class StageFileError(R2EError):
    """A stage file that is missing or cannot be read."""


def function_line(record: FunctionRecord) -> dict:
    """The record as one line of extracted.jsonl, its keys in the order the file has always had."""
    data = record.to_dict()
    return {**{k: data[k] for k in EXTRACTED_KEYS if k in data}, **data}


def function_folder(function_id: str) -> str:
    """A readable, filesystem-safe folder name, unique per id (a short hash of the id is appended)."""
    readable = _UNSAFE.sub("_", function_id.replace("::", "--").replace("/", "__")).strip("._-")[:120]
    digest = hashlib.sha1(function_id.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}"


@dataclass(frozen=True)
class BuildFiles:
    """One repository's build folder, build/<repo_id>/: what a build writes while it runs."""

    dir: Path

    @property
    def result(self) -> Path:  # written last: its presence means the build is done
        return self.dir / "result.json"

    @property
    def install_log(self) -> Path:
        return self.dir / "install.log"

    @property
    def plan(self) -> Path:
        return self.dir / "plan.json"

    @property
    def dockerfile(self) -> Path:  # docker: reproduces the repo image from its base
        return self.dir / "Dockerfile"

    @property
    def run_tests(self) -> Path:  # the eval script of record (in the image: /run_tests.sh)
        return self.dir / "run_tests.sh"

    @property
    def sandbox(self) -> Path:  # docker: the reporters the Dockerfile copies to /opt/r2e/sandbox
        return self.dir / "sandbox"

    @property
    def repairs(self) -> Path:  # the LLM repair transcript
        return self.dir / "repairs.json"

    @property
    def venv(self) -> Path:  # local backend: the repo's virtual environment
        return self.dir / "venv"


class Experiment:
    """One experiment of a workspace. Creating it touches nothing on disk."""

    def __init__(self, ws: Workspace, name: str):
        check_experiment_name(name)
        self.ws, self.name = ws, name
        self.dir = ws.experiments_dir / name

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, {self.dir})"

    # ------------------------------------------------------------------ paths
    @property
    def manifest_path(self) -> Path:
        return self.ws.manifest_path(self.name)  # the workspace keeps manifests (it lists experiments by them)

    @property
    def extracted_path(self) -> Path:
        return self.dir / "extracted.jsonl"

    @property
    def extract_dir(self) -> Path:
        return self.dir / "extract"

    @property
    def extract_summary_path(self) -> Path:
        return self.dir / "extract_summary.json"

    @property
    def build_dir(self) -> Path:
        return self.dir / "build"

    def build_repo_dir(self, repo_id: str) -> Path:
        return self.build_dir / repo_id

    def build_files(self, repo_id: str) -> BuildFiles:
        return BuildFiles(self.build_repo_dir(repo_id))

    def build_result_path(self, repo_id: str) -> Path:
        return self.build_files(repo_id).result

    def install_log_path(self, repo_id: str) -> Path:
        return self.build_files(repo_id).install_log

    @property
    def build_summary_path(self) -> Path:
        return self.dir / "build.json"

    @property
    def carve_dir(self) -> Path:
        return self.dir / "carve"

    @property
    def tests_dir(self) -> Path:
        return self.dir / "tests"

    def function_dir(self, function_id: str) -> Path:
        return self.tests_dir / function_folder(function_id)

    def harness_test_path(self, function_id: str) -> Path:
        return self.function_dir(function_id) / "test.py"

    def harness_result_path(self, function_id: str) -> Path:
        return self.function_dir(function_id) / "result.json"

    @property
    def genexec_path(self) -> Path:
        return self.dir / "genexec.json"

    @property
    def problems_path(self) -> Path:
        return self.dir / "problems.jsonl"

    @property
    def tasks_dir(self) -> Path:
        return self.dir / "tasks"

    def tasks_repo_dir(self, repo_id: str) -> Path:
        return self.tasks_dir / repo_id

    def task_candidate_path(self, repo_id: str, candidate_id: str) -> Path:
        """One candidate's validation record; its presence means the candidate is done (resume)."""
        return self.tasks_repo_dir(repo_id) / "candidates" / f"{candidate_id}.json"

    @property
    def tasks_path(self) -> Path:
        return self.dir / "tasks.jsonl"

    @property
    def tasks_summary_path(self) -> Path:
        return self.dir / "tasks_summary.json"

    @property
    def report_dir(self) -> Path:
        return self.dir / "report"

    @property
    def schemas_path(self) -> Path:
        return self.dir / SCHEMAS_FILE

    # ------------------------------------------------------------------ errors
    def error(self, kind: str, path: Path, problem: str) -> StageFileError:
        maker = MAKERS.get(kind, "").format(exp=self.name)
        hint = f" (run `{maker}` to make it)" if maker else ""
        return StageFileError(f"{path}: {problem}{hint}")

    def _read_json(self, kind: str, path: Path, *, required: bool) -> object:
        if not path.exists():
            if required:
                raise self.error(kind, path, "missing")
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise self.error(kind, path, "not UTF-8 text (corrupt?)") from None
        except ValueError as exc:
            raise self.error(kind, path, f"not valid JSON ({exc.msg}, line {exc.lineno})") from None
        except OSError as exc:
            raise self.error(kind, path, f"unreadable ({exc.strerror})") from None

    def _read_jsonl(self, kind: str, path: Path, parse: Callable[[dict], T]) -> list[T]:
        if not path.exists():
            raise self.error(kind, path, "missing")
        out = []
        try:
            with path.open(encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        out.append(parse(json.loads(line)))
                    except ValueError as exc:  # JSONDecodeError and RecordError
                        raise self.error(kind, path, f"line {n} is not a valid record ({exc})") from None
                    except TypeError as exc:
                        raise self.error(kind, path, f"line {n} has fields of the wrong type ({exc})") from None
        except UnicodeDecodeError:
            raise self.error(kind, path, "not UTF-8 text (corrupt?)") from None
        return out

    def _parse(self, kind: str, path: Path, data: object, parse: Callable[[dict], T]) -> T:
        try:
            return parse(data)  # type: ignore[arg-type]
        except (RecordError, TypeError, ValueError, AttributeError) as exc:
            raise self.error(kind, path, f"not a valid record ({exc})") from None

    # ------------------------------------------------------------------ schema versions
    def check_schema(self, kind: str, path: Path) -> None:
        written = self._schemas().get(kind)
        if isinstance(written, int) and written > SCHEMAS[kind]:
            raise StageFileError(f"{path}: written by a newer r2e (schema {written} > {SCHEMAS[kind]}); upgrade r2e")

    def _schemas(self) -> dict:
        try:
            data = json.loads(self.schemas_path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _stamp(self, kind: str) -> None:
        with file_lock(self.dir / ".schemas.lock"):
            data = self._schemas()
            if data.get(kind) != SCHEMAS[kind]:
                data[kind] = SCHEMAS[kind]
                atomic_write_json(self.schemas_path, data)

    # ------------------------------------------------------------------ manifest
    def exists(self) -> bool:
        return self.manifest_path.exists()

    def manifest(self) -> Manifest:
        self.check_schema("manifest", self.manifest_path)
        return self.ws.load_manifest(self.name)

    def repos(self, only: Iterable[str] | None = None) -> list[RepoRecord]:
        return self.ws.repos_of(self.name, list(only) if only else None)

    # ------------------------------------------------------------------ extraction
    def has_functions(self) -> bool:
        return self.extracted_path.exists()

    def functions(self, *, repos: Iterable[str] | None = None, ids: Iterable[str] | None = None,
                  lang: str | None = None) -> list[FunctionRecord]:
        """The extracted functions, optionally only some repos, ids or one language."""
        self.check_schema("extracted", self.extracted_path)
        records = self._read_jsonl("extracted", self.extracted_path, FunctionRecord.from_dict)
        if lang:
            records = [r for r in records if r.lang == lang]
        if repos:
            wanted_repos = set(repos)
            records = [r for r in records if r.repo in wanted_repos]
        if ids:
            wanted = set(ids)
            missing = wanted - {r.id for r in records}
            if missing:
                raise R2EError(f"function '{sorted(missing)[0]}' is not in {self.extracted_path}")
            records = [r for r in records if r.id in wanted]
        return records

    def write_functions(self, records: Iterable[FunctionRecord]) -> None:
        atomic_write_jsonl(self.extracted_path, [function_line(r) for r in records])
        self._stamp("extracted")

    # per-repo extraction output: extract/<repo_id>.jsonl, then its summary (whose presence means done)
    def repo_functions_path(self, repo_id: str) -> Path:
        return self.extract_dir / f"{repo_id}.jsonl"

    def repo_extract_summary_path(self, repo_id: str) -> Path:
        return self.extract_dir / f"{repo_id}.summary.json"

    def has_repo_extraction(self, repo_id: str) -> bool:
        return self.repo_extract_summary_path(repo_id).exists()

    def write_repo_extraction(self, repo_id: str, records: Iterable[FunctionRecord], summary: dict) -> None:
        atomic_write_jsonl(self.repo_functions_path(repo_id), [function_line(r) for r in records])
        atomic_write_json(self.repo_extract_summary_path(repo_id), summary)

    def repo_extraction(self, repo_id: str) -> tuple[list[FunctionRecord], dict] | None:
        """One repo's records and summary, or None when it has not been extracted."""
        summary_path = self.repo_extract_summary_path(repo_id)
        summary = self._read_json("extracted", summary_path, required=False)
        if summary is None:
            return None
        if not isinstance(summary, dict):
            raise self.error("extracted", summary_path, f"is {type(summary).__name__}, not an object")
        return self._read_jsonl("extracted", self.repo_functions_path(repo_id), FunctionRecord.from_dict), summary

    def write_extract_summary(self, summary: dict) -> None:
        atomic_write_json(self.extract_summary_path, summary)

    # ------------------------------------------------------------------ build
    def build_result(self, repo_id: str, *, required: bool = False) -> BuildResult | None:
        path = self.build_result_path(repo_id)
        self.check_schema("build_result", path)
        data = self._read_json("build_result", path, required=required)
        if data is None:
            return None
        return self._parse("build_result", path, data, BuildResult.from_dict)

    def write_build_result(self, result: BuildResult) -> None:
        atomic_write_json(self.build_result_path(result.repo), result.to_dict())
        self._stamp("build_result")

    def write_build_files(self, repo_id: str, files: dict[str, bytes]) -> None:
        """A build's folder files made elsewhere (a cluster node): plain names only, never paths."""
        folder = self.build_repo_dir(repo_id)
        for name, data in files.items():
            if not name or name in (".", "..") or "/" in name or "\\" in name or name == "result.json":
                raise self.error("build_result", folder / name, "not a build file name")
            atomic_write_bytes(folder / name, data)

    def build_results(self) -> tuple[list[BuildResult], list[str], list[str]]:
        """Every repo with a build folder: (results, unreadable repo ids, repos still building)."""
        results, unreadable, running = [], [], []
        if not self.build_dir.is_dir():
            return results, unreadable, running
        for folder in sorted(p for p in self.build_dir.iterdir() if p.is_dir()):
            if not self.build_result_path(folder.name).exists():
                running.append(folder.name)
                continue
            try:
                result = self.build_result(folder.name)
            except StageFileError:
                unreadable.append(folder.name)
                continue
            if result is not None:
                results.append(result)
        return results, unreadable, running

    def build_summary(self) -> dict | None:
        data = self._read_json("build_summary", self.build_summary_path, required=False)
        if data is not None and not isinstance(data, dict):
            raise self.error("build_summary", self.build_summary_path, "not a JSON object")
        return data

    def write_build_summary(self, summary: dict) -> None:
        atomic_write_json(self.build_summary_path, summary)
        self._stamp("build_summary")

    # ------------------------------------------------------------------ harnesses
    def harness_result(self, function_id: str) -> HarnessResult | None:
        path = self.harness_result_path(function_id)
        data = self._read_json("harness_result", path, required=False)
        if data is None:
            return None
        return self._parse("harness_result", path, data, HarnessResult.from_dict)

    def write_harness(self, function_id: str, test: str | None, result: HarnessResult) -> None:
        """The function's test (when given) and its result; the result last, so its presence means done."""
        if test is not None:
            atomic_write_text(self.harness_test_path(function_id), test)
        atomic_write_json(self.harness_result_path(function_id), result.to_dict())
        self._stamp("harness_result")

    def genexec_doc(self, *, required: bool = False) -> GenexecRun | None:
        """genexec.json as a record (None when absent and not required); a corrupt or wrong-typed file
        is a StageFileError naming it."""
        self.check_schema("genexec", self.genexec_path)
        data = self._read_json("genexec", self.genexec_path, required=required)
        if data is None:
            return None
        return self._parse("genexec", self.genexec_path, data, GenexecRun.from_dict)

    def write_genexec(self, run: GenexecRun) -> None:
        atomic_write_json(self.genexec_path, run.to_dict())
        self._stamp("genexec")

    def write_problems(self, problems: list[dict], path: Path | None = None) -> Path:
        out = path or self.problems_path
        atomic_write_jsonl(out, problems)
        if out == self.problems_path:
            self._stamp("problems")
        return out

    # ------------------------------------------------------------------ tasks
    def tasks(self) -> list[TaskInstance]:
        self.check_schema("tasks", self.tasks_path)
        return self._read_jsonl("tasks", self.tasks_path, TaskInstance.from_dict)

    def write_tasks(self, tasks: Iterable[TaskInstance], path: Path | None = None) -> Path:
        out = path or self.tasks_path
        atomic_write_jsonl(out, [t.to_dict() for t in tasks])
        if out == self.tasks_path:
            self._stamp("tasks")
        return out

    def tasks_summary(self) -> dict | None:
        data = self._read_json("tasks_summary", self.tasks_summary_path, required=False)
        if data is not None and not isinstance(data, dict):
            raise self.error("tasks_summary", self.tasks_summary_path, "not a JSON object")
        return data

    def write_tasks_summary(self, summary: dict) -> None:
        atomic_write_json(self.tasks_summary_path, summary)
        self._stamp("tasks_summary")

    def task_candidate(self, repo_id: str, candidate_id: str) -> dict | None:
        """A candidate's saved validation record, or None (not validated yet, or unreadable: validate again)."""
        try:
            data = self._read_json("tasks", self.task_candidate_path(repo_id, candidate_id), required=False)
        except StageFileError:
            return None
        return data if isinstance(data, dict) else None

    def write_task_candidate(self, repo_id: str, candidate_id: str, record: dict) -> None:
        atomic_write_json(self.task_candidate_path(repo_id, candidate_id), record)

    def task_candidates(self, repo_id: str) -> list[dict]:
        folder = self.tasks_repo_dir(repo_id) / "candidates"
        out = []
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
            record = self.task_candidate(repo_id, path.stem)
            if record is not None:
                out.append(record)
        return out
    # ------------------------------------------------------------------ perf
    @property
    def perf_dir(self) -> Path:
        return self.dir / "perf"

    def perf_path(self, kind: str) -> Path:
        return self.perf_dir / PERF_FILES[kind][0]

    @property
    def perf_candidates_path(self) -> Path:
        return self.perf_path("perf_candidates")

    @property
    def perf_tasks_path(self) -> Path:
        return self.perf_path("perf_tasks")

    def perf_harness_script(self, candidate_id: str) -> Path:
        return self.perf_dir / "harnesses" / f"{function_folder(candidate_id)}.py"

    @property
    def perf_table_dir(self) -> Path:
        return self.perf_dir / "table"

    def perf_records(self, kind: str) -> list:
        """The records of one perf stage file (PerfCandidate, PerfHarness, PerfMeasurement or PerfTask)."""
        path = self.perf_path(kind)
        self.check_schema(kind, path)
        return self._read_jsonl(kind, path, PERF_FILES[kind][1].from_dict)

    def write_perf_records(self, kind: str, records: Iterable) -> Path:
        path = self.perf_path(kind)
        atomic_write_jsonl(path, [r.to_dict() for r in records])
        self._stamp(kind)
        return path
