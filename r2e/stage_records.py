"""The records that flow between stages: made by one stage, read back by every consumer.

Frozen dataclasses with `to_dict`/`from_dict`. The saved JSON keeps the keys files have always had,
so results written before these classes existed still load; keys a record does not know are kept in
`extra` and written back unchanged. Only the standard library here: every package imports this.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# Build statuses whose environment later stages may run in: the repo installed and its tests ran
# (all passing, most passing, or none found). Everything else has nothing usable to open.
USABLE_STATUSES = ("success", "partial", "no_tests")


class RecordError(ValueError):
    """Data that does not have the shape of the record it should be."""


def _known(cls) -> set[str]:
    return {f.name for f in fields(cls)} - {"extra"}


def _split(cls, data: Any, what: str) -> tuple[dict, dict]:
    if not isinstance(data, dict):
        raise RecordError(f"{what} is {type(data).__name__}, not an object")
    known = _known(cls)
    return {k: v for k, v in data.items() if k in known}, {k: v for k, v in data.items() if k not in known}


def _require(values: dict, names: tuple[str, ...], what: str) -> None:
    missing = [n for n in names if n not in values]
    if missing:
        raise RecordError(f"{what} lacks {', '.join(missing)}")


# --------------------------------------------------------------------------------------- extraction
@dataclass(frozen=True)
class FunctionRecord:
    """One extracted function or method, as `r2e extract` writes it to extracted.jsonl."""

    id: str  # "<repo_id>/<path>::<qualname>"
    repo: str
    path: str  # relative to the repo root
    name: str
    start_line: int  # 1-based line of the definition (decorators excluded)
    end_line: int  # 1-based, inclusive
    code: str
    lang: str = "python"
    kind: str = "function"
    class_name: str | None = None
    is_async: bool = False
    decorators: tuple[str, ...] = ()
    docstring: str = ""
    signature: str = ""
    callees: tuple[str, ...] = ()
    context: str = ""  # the dependency slice, the target last
    context_tokens: int = 0
    file_tokens: int = 0
    context_files: tuple[str, ...] = ()
    context_trimmed: bool = False
    extra: dict = field(default_factory=dict, compare=False, repr=False)  # language-specific fields

    @property
    def qualname(self) -> str:
        return f"{self.class_name}.{self.name}" if self.class_name else self.name

    @property
    def reference_name(self) -> str:
        return f"reference_{self.class_name or self.name}"

    @property
    def module(self) -> str:
        """Dotted module name guessed from the path (src layout stripped); the runner resolves the real one."""
        parts = Path(self.path).with_suffix("").parts
        if parts and parts[0] in ("src", "lib") and len(parts) > 1:
            parts = parts[1:]
        if parts and parts[-1] == "__init__":
            parts = parts[:-1]
        return ".".join(parts)

    @classmethod
    def from_dict(cls, data: dict) -> "FunctionRecord":
        values, extra = _split(cls, data, "function record")
        _require(values, ("id", "repo", "path", "name", "start_line", "end_line", "code"), "function record")
        for key in ("docstring", "signature", "context", "kind", "lang"):
            if values.get(key) is None:
                values.pop(key, None)  # the dataclass default
        for key in ("decorators", "callees", "context_files"):
            values[key] = tuple(values.get(key) or ())
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        for key in ("decorators", "callees", "context_files"):
            out[key] = list(out[key])
        return {**out, **self.extra}


# -------------------------------------------------------------------------------------------- build
@dataclass(frozen=True)
class Failure:
    """Why a build is not a success: an exception class (or a category), its message, the module at fault."""

    cls: str
    message: str = ""
    module: str | None = None

    @classmethod
    def from_dict(cls, data: dict | None) -> "Failure | None":
        if not data:
            return None
        if not isinstance(data, dict):
            raise RecordError(f"build failure is {type(data).__name__}, not an object")
        return cls(str(data.get("class") or "Error"), str(data.get("message") or ""), data.get("module"))

    def to_dict(self) -> dict:
        return {"class": self.cls, "message": self.message, "module": self.module}


@dataclass(frozen=True)
class OracleResult:
    """What the installation oracle saw: imports (Python), the build (C), and the repo's own tests."""

    imports_ok: bool = False
    import_errors: dict = field(default_factory=dict)  # module -> {type, message, module, trace}
    tests_run: bool = False
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    pass_ratio: float | None = None
    pytest_exit: int | None = None  # the test command's real exit code
    timed_out: bool = False
    output_tail: str = ""
    built: bool | None = None  # C: did the build step succeed (None for Python)
    source: str | None = None  # C: where the counts came from (ctest, tap, automake, exit code)
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors

    @classmethod
    def from_dict(cls, data: dict | None) -> "OracleResult | None":
        if data is None:
            return None
        values, extra = _split(cls, data, "oracle result")
        if "test_exit" in extra and "pytest_exit" not in values:  # C results name it test_exit
            values["pytest_exit"] = extra.pop("test_exit")
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        if self.built is None:  # Python results never had these keys
            out.pop("built")
            out.pop("source")
        else:  # C results name the test command's exit code test_exit
            out["test_exit"] = out.pop("pytest_exit")
        return {**out, **self.extra}

    def with_ratio(self) -> "OracleResult":
        return replace(self, pass_ratio=round(self.passed / self.total, 4) if self.total else None)


@dataclass(frozen=True)
class BuildResult:
    """One repository's build: build/<repo_id>/result.json."""

    repo: str
    status: str  # success | partial | no_tests | failed | timeout | python2 | error
    backend: str = "docker"
    started: str | None = None
    finished: str | None = None
    duration: float | None = None
    python: str | None = None
    python_reason: str | None = None
    language: str = "python"
    build_system: str | None = None  # C builds name theirs
    plan: dict = field(default_factory=dict)  # the saved install plan (plan.json)
    commands: tuple[dict, ...] = ()  # every command run: kind, command, exit_code, duration, timed_out
    install_script: tuple[str, ...] = ()  # the commands that reproduce the environment
    oracle: OracleResult | None = None
    failure: Failure | None = None
    image: str | None = None  # docker: the image of record
    venv: str | None = None
    workdir: str | None = None
    failed_requirements: tuple[str, ...] = ()
    repair_steps: tuple[dict, ...] = ()
    # The environment of record's tests: what later stages run and read (absent from older results).
    test_command: dict = field(default_factory=dict)  # the discovered command: command, source, reason, runner...
    eval_script: str | None = None  # the text of /run_tests.sh (or its local equivalent)
    eval_script_path: str | None = None  # where it sits inside the environment
    eval_timeout: float | None = None  # what a caller gives one full run of the eval script
    test_run: dict | None = None  # the per-test map and its run: tests (id -> status), flaky, reasons, ...
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def usable(self) -> bool:
        return self.status in USABLE_STATUSES

    @property
    def tests(self) -> dict[str, str]:
        """The per-test map of the build's last test run: test id -> PASSED | FAILED | ERROR | SKIPPED | XFAIL."""
        return dict((self.test_run or {}).get("tests") or {})

    @property
    def flaky(self) -> tuple[str, ...]:
        return tuple((self.test_run or {}).get("flaky") or ())

    @property
    def pass_ratio(self) -> float | None:
        return self.oracle.pass_ratio if self.oracle else None

    @classmethod
    def from_dict(cls, data: dict) -> "BuildResult":
        values, extra = _split(cls, data, "build result")
        _require(values, ("repo", "status"), "build result")
        for key in ("repo", "status"):
            _typed(values, key, str, "build result", optional=False)
        for key in ("backend", "language", "image", "venv", "workdir"):
            _typed(values, key, str, "build result")
        values["oracle"] = OracleResult.from_dict(values.get("oracle"))
        values["failure"] = Failure.from_dict(values.get("failure"))
        for key in ("commands", "install_script", "failed_requirements", "repair_steps"):
            values[key] = tuple(values.get(key) or ())
        values["plan"] = dict(values.get("plan") or {})
        values["language"] = values.get("language") or "python"
        values["test_command"] = dict(values.get("test_command") or {})
        for key in ("test_command", "test_run"):
            if values.get(key) is not None and not isinstance(values[key], dict):
                raise RecordError(f"build result: {key} is {type(values[key]).__name__}, not an object")
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out["oracle"] = self.oracle.to_dict() if self.oracle else None
        out["failure"] = self.failure.to_dict() if self.failure else None
        for key in ("commands", "install_script", "failed_requirements", "repair_steps"):
            out[key] = list(out[key])
        return {**out, **self.extra}


# ------------------------------------------------------------------------------------------ harness
@dataclass(frozen=True)
class Coverage:
    """Coverage of the one function under test (branch and line), as the runner measured it."""

    source: str = "none"  # coverage-functions | line-range | none
    branch_coverage: float | None = None
    line_coverage: float | None = None
    num_branches: int | None = None
    covered_branches: int | None = None
    num_statements: int | None = None
    covered_lines: int | None = None
    error: str | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)  # executed/missing lines and branches

    @classmethod
    def from_dict(cls, data: dict | None) -> "Coverage | None":
        if not data:
            return None
        values, extra = _split(cls, data, "coverage")
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {k: v for k, v in out.items() if v is not None or k in ("branch_coverage", "line_coverage")} | self.extra

    def missing(self, key: str) -> list:
        return list(self.extra.get(key) or [])


@dataclass(frozen=True)
class HarnessResult:
    """One execution of a function's harness: tests/<folder>/result.json."""

    function: str
    status: str  # valid | invalid | timeout | crashed
    valid: bool = False
    test_sha256: str | None = None
    reasons: tuple[str, ...] = ()
    counts: dict | None = None  # run, passed, failed, errored, skipped
    tests: tuple[dict, ...] = ()
    load_error: str | None = None
    coverage: Coverage | None = None
    captures: tuple = ()
    captured_calls: int = 0
    runs: tuple[dict, ...] = ()
    timed_out: bool = False
    duration: float | None = None
    mode: str = "original"
    exec: dict | None = None  # the outer command: exit_code, timed_out, duration
    output: str | None = None
    runner_version: int | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def branch_coverage(self) -> float:
        value = self.coverage.branch_coverage if self.coverage else None
        return float(value) if value is not None else 0.0

    @property
    def line_coverage(self) -> float:
        value = self.coverage.line_coverage if self.coverage else None
        return float(value) if value is not None else 0.0

    def rank(self) -> tuple:
        """Better results sort higher: valid first, then branch coverage, then line coverage."""
        return (self.valid, self.branch_coverage, self.line_coverage)

    @classmethod
    def from_dict(cls, data: dict) -> "HarnessResult":
        values, extra = _split(cls, data, "harness result")
        _require(values, ("function", "status"), "harness result")
        for key in ("function", "status"):
            _typed(values, key, str, "harness result", optional=False)
        values["coverage"] = Coverage.from_dict(values.get("coverage"))
        for key in ("reasons", "tests", "captures", "runs"):
            values[key] = tuple(values.get(key) or ())
        values["valid"] = bool(values.get("valid"))
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out["coverage"] = self.coverage.to_dict() if self.coverage else None
        for key in ("reasons", "tests", "captures", "runs"):
            out[key] = list(out[key])
        return {**out, **self.extra}


def rank_of(result: HarnessResult | None) -> tuple:
    return result.rank() if result is not None else (False, -1.0, -1.0)


# ------------------------------------------------------------------------------------------ genexec
def _typed(values: dict, key: str, types: type | tuple, what: str, *, optional: bool = True) -> None:
    """Reject a field of the wrong JSON type (None passes when optional)."""
    value = values.get(key)
    if value is None and optional:
        return
    names = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, names) or (isinstance(value, bool) and bool not in names):
        wanted = " or ".join(_JSON_NAMES.get(t, t.__name__) for t in names)
        raise RecordError(f"{what}: {key} is {_JSON_NAMES.get(type(value), type(value).__name__)}, not {wanted}")


_JSON_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
               float: "a number", type(None): "null"}


@dataclass(frozen=True)
class GenexecEntry:
    """One function's final line in genexec.json's `functions`: its best test and result, or why it has none."""

    folder: str | None = None
    repo: str | None = None
    status: str | None = None  # the best result's status, or the last attempt's (crashed, generation-failed...)
    valid: bool = False
    done: bool = False
    branch_coverage: float | None = None
    line_coverage: float | None = None
    coverage: Coverage | None = None
    counts: dict | None = None
    test: str | None = None  # the best test's source
    tokens: dict | None = None  # prompt, completion
    history: tuple[dict, ...] = ()  # one line per round
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def prompt_tokens(self) -> int:
        return int((self.tokens or {}).get("prompt") or 0)

    @property
    def completion_tokens(self) -> int:
        return int((self.tokens or {}).get("completion") or 0)

    @classmethod
    def from_dict(cls, data: dict, what: str = "genexec entry") -> "GenexecEntry":
        values, extra = _split(cls, data, what)
        for key in ("folder", "repo", "status", "test"):
            _typed(values, key, str, what)
        for key in ("valid", "done"):
            _typed(values, key, bool, what)
        for key in ("branch_coverage", "line_coverage"):
            _typed(values, key, (int, float), what)
        for key in ("coverage", "counts", "tokens"):
            _typed(values, key, dict, what)
        _typed(values, "history", list, what)
        if not all(isinstance(h, dict) for h in values.get("history") or ()):
            raise RecordError(f"{what}: history holds a line that is not an object")
        values["valid"] = bool(values.get("valid"))
        values["done"] = bool(values.get("done"))
        values["coverage"] = Coverage.from_dict(values.get("coverage"))
        values["history"] = tuple(values.get("history") or ())
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out["coverage"] = self.coverage.to_dict() if self.coverage else None
        out["history"] = list(self.history)
        return {**out, **self.extra}


@dataclass(frozen=True)
class GenexecRun:
    """The genexec loop's state: genexec.json, rewritten after every round and at the end."""

    functions: dict[str, GenexecEntry] = field(default_factory=dict)
    experiment: str | None = None
    generator: str | None = None
    started: str | None = None
    params: dict | None = None  # k, min_valid, min_cov, backend, llm
    rounds: tuple[dict, ...] = ()  # one RoundStats line per round
    stop_reason: str | None = None  # set when the run finishes
    finished: str | None = None
    summary: dict | None = None  # functions, valid, done, prompt_tokens, completion_tokens, rounds
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    # the order genexec.json has always had its keys in; the optional ones are left out when unset
    ORDER = ("experiment", "generator", "started", "params", "rounds", "functions", "stop_reason", "finished",
             "summary")

    @classmethod
    def from_dict(cls, data: dict) -> "GenexecRun":
        what = "genexec document"
        values, extra = _split(cls, data, what)
        for key in ("experiment", "generator", "started", "stop_reason", "finished"):
            _typed(values, key, str, what)
        for key in ("params", "summary", "functions"):
            _typed(values, key, dict, what)
        _typed(values, "rounds", list, what)
        if not all(isinstance(r, dict) for r in values.get("rounds") or ()):
            raise RecordError(f"{what}: rounds holds a line that is not an object")
        values["rounds"] = tuple(values.get("rounds") or ())
        values["functions"] = {fid: GenexecEntry.from_dict(entry, f"genexec entry {fid}")
                               for fid, entry in (values.get("functions") or {}).items()}
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        out: dict = {}
        for key in self.ORDER:
            value = getattr(self, key)
            if key == "rounds":
                out[key] = list(value)
            elif key == "functions":
                out[key] = {fid: entry.to_dict() for fid, entry in value.items()}
            elif value is not None:
                out[key] = value
        return {**out, **self.extra}


# -------------------------------------------------------------------------------------------- tasks
def _id_list(value: Any, what: str) -> tuple[str, ...]:
    """A list of test ids, given as a list or as SWE-bench's JSON-encoded string of one."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError:
            raise RecordError(f"{what} is not a JSON list of test ids") from None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise RecordError(f"{what} is not a list of test ids")
    return tuple(value)


@dataclass(frozen=True)
class TaskInstance:
    """One repository-level bug-fix task: a line of tasks.jsonl, under SWE-bench / R2E-Gym field names.

    `patch` is the gold fix (SWE-bench's meaning). A mutation task's buggy state is `base_commit` with
    `bug_patch` applied (SWE-smith calls that diff `patch`); the environment (`docker_image`) holds the
    clean repository, so a consumer applies `bug_patch` first, then gives the agent the tree."""

    instance_id: str
    repo: str
    base_commit: str
    patch: str  # the gold fix, applied to the buggy tree
    problem_statement: str
    FAIL_TO_PASS: tuple[str, ...]
    PASS_TO_PASS: tuple[str, ...]
    test_patch: str = ""  # hidden tests: none for mutations (the repo's own tests catch the bug)
    version: str = ""
    environment_setup_commit: str = ""
    docker_image: str | None = None  # R2E-Gym's name for the image
    image_name: str | None = None  # SWE-smith's name for the same image
    eval_script: str = ""
    created_at: str = ""
    hints_text: str = ""
    # R2E's own fields
    source: str = "mutation"  # mutation | history
    bug_patch: str = ""  # the bug-introducing diff, applied to base_commit to make the buggy tree
    strategy: str = ""
    seed: int | None = None
    function_id: str = ""
    flaky_tests: tuple[str, ...] = ()
    statement_kind: str = "offline"  # offline | llm
    backend: str = "docker"
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: dict) -> "TaskInstance":
        values, extra = _split(cls, data, "task instance")
        _require(values, ("instance_id", "repo", "base_commit", "patch", "problem_statement", "FAIL_TO_PASS",
                          "PASS_TO_PASS"), "task instance")
        for key in ("FAIL_TO_PASS", "PASS_TO_PASS", "flaky_tests"):
            values[key] = _id_list(values.get(key, ()), key)
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out["FAIL_TO_PASS"] = json.dumps(list(self.FAIL_TO_PASS))  # JSON-encoded lists, as SWE-bench ships them
        out["PASS_TO_PASS"] = json.dumps(list(self.PASS_TO_PASS))
        out["flaky_tests"] = list(self.flaky_tests)
        return {**out, **self.extra}


# --------------------------------------------------------------------------------------------- perf
def _tuples(values: dict, keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in values:
            values[key] = tuple(values.get(key) or ())


def _lists(out: dict, keys: tuple[str, ...]) -> dict:
    for key in keys:
        out[key] = list(out[key])
    return out


@dataclass(frozen=True)
class PerfCandidate:
    """A commit that may make code faster (r2e perf mine): perf/candidates.jsonl."""

    id: str  # "<repo_id>@<commit[:12]>"
    repo: str
    commit: str  # B, the optimising commit
    parent: str  # A^, its parent
    subject: str = ""
    date: str = ""
    matched: tuple[str, ...] = ()  # the message patterns that matched
    functions: tuple[str, ...] = ()  # extracted function ids whose code the diff changes
    apis: tuple[str, ...] = ()  # their qualified names (module.qualname)
    files: tuple[str, ...] = ()  # non-test Python files the diff touches
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: dict) -> "PerfCandidate":
        values, extra = _split(cls, data, "perf candidate")
        _require(values, ("id", "repo", "commit", "parent"), "perf candidate")
        _tuples(values, ("matched", "functions", "apis", "files"))
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**_lists(out, ("matched", "functions", "apis", "files")), **self.extra}


@dataclass(frozen=True)
class PerfHarness:
    """One candidate's workload (r2e perf harness / quickcheck): perf/harnesses.jsonl."""

    candidate: str
    status: str  # generated | passed | dropped
    function: str | None = None  # the extracted function id the workload calls
    api: str | None = None
    source: str | None = None  # carve | benchmarks | llm
    script: str | None = None  # path relative to the experiment folder
    scale: int = 1  # SCALE the runner sets: repetitions of the workload per run
    reason: str | None = None  # why it was dropped
    quickcheck: dict = field(default_factory=dict)  # per version: wall, ok, digest; equal
    attempts: tuple[dict, ...] = ()  # each quickcheck try: error and whether it was repaired
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: dict) -> "PerfHarness":
        values, extra = _split(cls, data, "perf harness")
        _require(values, ("candidate", "status"), "perf harness")
        _tuples(values, ("attempts",))
        values["quickcheck"] = dict(values.get("quickcheck") or {})
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**_lists(out, ("attempts",)), **self.extra}


@dataclass(frozen=True)
class PerfMeasurement:
    """A candidate measured against its parent (r2e perf measure): perf/measurements.jsonl."""

    candidate: str
    admitted: bool
    reason: str = ""
    repeats: int = 0
    wall_a: tuple[float, ...] = ()  # seconds per run, in run order (interleaved with B)
    wall_b: tuple[float, ...] = ()
    cpu_a: tuple[float, ...] = ()  # process CPU seconds
    cpu_b: tuple[float, ...] = ()
    counter: str = "none"  # perf | callgrind | none: what counted instructions
    instr_a: tuple[int, ...] = ()
    instr_b: tuple[int, ...] = ()
    speedup: float | None = None  # median(A) / median(B)
    ci_low: float | None = None  # bootstrap 95 % interval of the speed-up
    ci_high: float | None = None
    p_value: float | None = None  # Mann-Whitney U, two-sided, on wall times
    instr_ratio: float | None = None  # median instructions A / B
    equal: bool = False  # both versions returned the same result on every run
    pinned_cpu: int | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    SERIES = ("wall_a", "wall_b", "cpu_a", "cpu_b", "instr_a", "instr_b")

    @classmethod
    def from_dict(cls, data: dict) -> "PerfMeasurement":
        values, extra = _split(cls, data, "perf measurement")
        _require(values, ("candidate", "admitted"), "perf measurement")
        _tuples(values, cls.SERIES)
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**_lists(out, self.SERIES), **self.extra}


@dataclass(frozen=True)
class PerfTask:
    """An admitted performance task in GSO's shape (r2e perf export): perf/tasks.jsonl."""

    instance_id: str
    repo: str
    base_commit: str  # A^
    opt_commit: str  # B
    api: str
    prob_script: str  # the harness source
    tests: tuple[str, ...] = ()
    docker_image: str | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)  # speed-up, interval, counter...

    @classmethod
    def from_dict(cls, data: dict) -> "PerfTask":
        values, extra = _split(cls, data, "perf task")
        _require(values, ("instance_id", "repo", "base_commit", "opt_commit", "api", "prob_script"), "perf task")
        _tuples(values, ("tests",))
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**_lists(out, ("tests",)), **self.extra}
