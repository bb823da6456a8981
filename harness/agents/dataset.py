"""One reader for every dataset an agent runs on: R2E `tasks.jsonl`, SWE-bench, SWE-smith, R2E-Gym and
SWE-Factory rows, from JSON, JSONL, parquet or a saved HF dataset folder, into frozen `AgentInstance`s.

Field names differ between the datasets (R2E-Gym has no `instance_id`, SWE-smith's `patch` is the bug,
SWE-bench keeps its image name implicit); the normaliser is the one place that knows, so grading and the
run loop see one record. A file or row that cannot be read is a one-line error naming the file and row.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from r2e.errors import R2EUsageError

KINDS = ("r2e", "swebench", "swesmith", "r2egym", "swefactory")
DEFAULT_WORKDIR = "/testbed"
DEFAULT_EVAL_TIMEOUT = 300.0
R2E_RUN_TESTS = "/run_tests.sh"  # R2E's eval script of record, baked into every image it builds


@dataclass(frozen=True)
class AgentInstance:
    instance_id: str
    problem_statement: str
    docker_image: str
    repo: str = ""
    base_commit: str = ""
    eval_script: str = ""  # bash text run as is (SWE-Factory, SWE-bench-style); "" -> R2E_RUN_TESTS with ids
    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    test_patch: str = ""  # hidden tests: applied only at grading, in a fresh container
    patch: str = ""  # the gold fix
    setup_patch: str = ""  # applied before the agent starts (a mutation's bug; SWE-smith's `patch`)
    expected_output_json: str = ""  # R2E-Gym: the per-test map the fixed repo must produce
    workdir: str = DEFAULT_WORKDIR
    eval_timeout: float = DEFAULT_EVAL_TIMEOUT
    kind: str = "swebench"
    source: dict = field(default_factory=dict, compare=False, hash=False, repr=False)  # the row as read

    @property
    def gold_is_unapplied_setup(self) -> bool:
        """SWE-smith: the fix is the bug patch not applied (there is no separate gold patch)."""
        return not self.patch and bool(self.setup_patch)

    def ds(self) -> dict:
        """The row as R2E-Gym's `ds` field keeps it, plus the normalised names."""
        normal = {"instance_id": self.instance_id, "repo": self.repo, "base_commit": self.base_commit,
                  "problem_statement": self.problem_statement, "docker_image": self.docker_image,
                  "FAIL_TO_PASS": list(self.fail_to_pass), "PASS_TO_PASS": list(self.pass_to_pass),
                  "dataset_kind": self.kind}
        return {**_jsonable(self.source), **normal}

    @property
    def repo_name(self) -> str:
        return self.repo or self.instance_id.rsplit("-", 1)[0]


def load_instances(path: str | Path, *, kind: str = "auto", split: str | None = None,
                   workdir: str | None = None, eval_timeout: float | None = None) -> list[AgentInstance]:
    """Every row of the dataset at `path`, normalised; duplicate instance ids are an error (runs resume on them)."""
    path = Path(path)
    if kind != "auto" and kind not in KINDS:
        raise R2EUsageError(f"unknown dataset kind '{kind}': choose auto or one of {', '.join(KINDS)}")
    rows = read_rows(path, split)
    out: list[AgentInstance] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        where = f"{path}: row {number}"
        if not isinstance(row, dict):
            raise R2EUsageError(f"{where}: expected a JSON object, got {type(row).__name__}")
        inst = normalise(row, kind=kind, where=where, workdir=workdir, eval_timeout=eval_timeout)
        if inst.instance_id in seen:
            raise R2EUsageError(f"{where}: instance_id '{inst.instance_id}' repeats row {seen[inst.instance_id]}")
        seen[inst.instance_id] = number
        out.append(inst)
    return out


def select(instances: list[AgentInstance], *, start_idx: int = 0, k: int | None = None,
           pattern: str | None = None) -> list[AgentInstance]:
    """--filter REGEX (searched in instance_id), then --start-idx and --k, as R2E-Gym slices its datasets."""
    if pattern:
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise R2EUsageError(f"invalid --filter '{pattern}': {exc}") from None
        instances = [i for i in instances if rx.search(i.instance_id)]
    instances = instances[start_idx:]
    return instances[:k] if k is not None else instances


# -- reading files --------------------------------------------------------------------------------
def read_rows(path: Path, split: str | None = None) -> list[tuple[int, Any]]:
    """(row number, row) of a JSON list, JSONL, parquet file or saved HF dataset folder (numbers from 1)."""
    if not path.exists():
        raise R2EUsageError(f"dataset not found: {path}")
    if path.is_dir():
        return list(enumerate(_hf_rows(path, split), 1))
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return list(enumerate(_parquet_rows(path), 1))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise R2EUsageError(f"cannot read dataset {path}: {exc}") from None
    if suffix == ".json" or (suffix != ".jsonl" and text.lstrip().startswith("[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise R2EUsageError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if isinstance(data, dict):  # {"instances": [...]} or a single instance
            data = data.get("instances", data.get("data", [data]))
        if not isinstance(data, list):
            raise R2EUsageError(f"{path}: expected a JSON list of instances")
        return list(enumerate(data, 1))
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise R2EUsageError(f"{path}: row {number} is not valid JSON ({exc.msg})") from None
    return rows


def _parquet_rows(path: Path) -> list[dict]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        try:
            import pandas
        except ImportError:
            raise R2EUsageError(f"{path}: reading parquet needs pyarrow or pandas: pip install pyarrow") from None
        try:
            return pandas.read_parquet(path).to_dict("records")
        except Exception as exc:
            raise R2EUsageError(f"{path}: not a readable parquet file ({type(exc).__name__}: {exc})") from None
    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:
        raise R2EUsageError(f"{path}: not a readable parquet file ({type(exc).__name__}: {exc})") from None


def _hf_rows(path: Path, split: str | None) -> Iterable[dict]:
    try:
        import datasets
    except ImportError:
        raise R2EUsageError(f"{path} is a folder: reading a saved HF dataset needs `datasets`: "
                            "pip install datasets") from None
    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as exc:
        raise R2EUsageError(f"{path}: not a saved HF dataset ({type(exc).__name__}: {exc})") from None
    if isinstance(ds, datasets.DatasetDict):
        names = list(ds)
        chosen = split or ("test" if "test" in names else names[0] if len(names) == 1 else None)
        if chosen not in ds:
            raise R2EUsageError(f"{path}: choose a split with --split ({', '.join(names)})")
        ds = ds[chosen]
    return list(ds)


# -- one row --------------------------------------------------------------------------------------
def detect_kind(row: dict) -> str:
    if row.get("expected_output_json") or ("repo_name" in row and "commit_hash" in row):
        return "r2egym"
    if any(k in row for k in ("statement_kind", "bug_patch", "function_id", "strategy")):
        return "r2e"
    if "swesmith" in str(row.get("image_name") or "") or "swesmith" in str(row.get("docker_image") or ""):
        return "swesmith"
    if row.get("eval_script") and (row.get("dockerfile") or row.get("docker_image")):
        return "swefactory"
    return "swebench"


def normalise(row: dict, *, kind: str = "auto", where: str = "row", workdir: str | None = None,
              eval_timeout: float | None = None) -> AgentInstance:
    kind = detect_kind(row) if kind == "auto" else kind
    problem = _text(row, "problem_statement", where) or _text(row, "prompt", where)
    if not problem:
        raise R2EUsageError(f"{where}: no problem_statement")
    repo = _text(row, "repo", where) or _text(row, "repo_name", where)
    base = _text(row, "base_commit", where) or _text(row, "commit_hash", where)
    instance_id = _text(row, "instance_id", where)
    image = _text(row, "docker_image", where) or _text(row, "image_name", where)
    if not instance_id:
        if kind == "r2egym" and (repo and base):
            instance_id = f"{repo.replace('/', '__')}-{base[:12]}"  # R2E-Gym keys on images: two rows may share one
        elif image:
            instance_id = image
        else:
            raise R2EUsageError(f"{where}: no instance_id")
    if not image and kind == "swebench":
        image = swebench_image(instance_id)
    if not image:
        raise R2EUsageError(f"{where}: instance {instance_id} has no docker_image or image_name")
    patch = _text(row, "patch", where)
    setup = _text(row, "bug_patch", where)
    if kind == "swesmith":  # SWE-smith's `patch` introduces the bug; the fix is leaving it out
        setup, patch = setup or patch, ""
    timeout = eval_timeout if eval_timeout is not None else _number(row.get("eval_timeout"), DEFAULT_EVAL_TIMEOUT, where)
    expected = row.get("expected_output_json") or ""
    if expected and not isinstance(expected, str):
        expected = json.dumps(expected)
    return AgentInstance(
        instance_id=instance_id, problem_statement=problem, docker_image=image, repo=repo, base_commit=base,
        eval_script=_text(row, "eval_script", where), fail_to_pass=test_ids(row, "FAIL_TO_PASS", where),
        pass_to_pass=test_ids(row, "PASS_TO_PASS", where), test_patch=_text(row, "test_patch", where),
        patch=patch, setup_patch=setup, expected_output_json=expected,
        workdir=workdir or _text(row, "workdir", where) or DEFAULT_WORKDIR, eval_timeout=timeout, kind=kind,
        source=dict(row))


def swebench_image(instance_id: str) -> str:
    """The published SWE-bench instance image ('__' is spelled '_1776_' in Docker Hub names)."""
    return f"swebench/sweb.eval.x86_64.{instance_id.replace('__', '_1776_').lower()}:latest"


def test_ids(row: dict, key: str, where: str) -> tuple[str, ...]:
    """A list of test ids, or its JSON encoding (SWE-bench publishes them as strings)."""
    value = row.get(key, row.get(key.lower()))
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise R2EUsageError(f"{where}: {key} is neither a list nor a JSON-encoded list") from None
    if hasattr(value, "tolist"):  # numpy arrays from pandas' parquet reader
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise R2EUsageError(f"{where}: {key} must be a list of test ids (strings)")
    return tuple(value)


def _text(row: dict, key: str, where: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise R2EUsageError(f"{where}: {key} must be a string, got {type(value).__name__}")
    return value


def _number(value: Any, default: float, where: str) -> float:
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise R2EUsageError(f"{where}: eval_timeout must be a number of seconds, got {value!r}") from None
    if not number > 0:
        raise R2EUsageError(f"{where}: eval_timeout must be positive, got {value!r}")
    return number


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
