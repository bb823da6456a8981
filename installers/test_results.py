"""Per-test results on the host: the map the in-environment reporters write, read into a `TestRun`.

The map (test id -> PASSED | FAILED | ERROR | SKIPPED | XFAIL) is the only source of counts and of
the pass ratio: passed / (passed + failed + error), flaky tests left out. Reports come as the JSON
of installers/sandbox (pytest plugin, unittest runner) or as JUnit XML, read by the same code that
converts JUnit inside the environment. Never from log lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from installers.sandbox.r2e_junit_report import junit_tests
from installers.sandbox.r2e_report_io import ERROR, FAILED, PASSED, SKIPPED, XFAIL
from r2e.errors import R2EError

STATUSES = (PASSED, FAILED, ERROR, SKIPPED, XFAIL)
RESULT_MARKER = "R2E-TEST-RESULT "  # the eval script's last line: this prefix, then one JSON object


@dataclass(frozen=True)
class TestRun:
    """One run of a repository's test command, judged test by test."""

    __test__ = False  # not a pytest test class, despite the name

    tests: dict[str, str]  # test id -> status
    exit_code: int | None = None  # the test command's own exit code
    timed_out: bool = False  # the whole-suite budget ran out
    duration: float = 0.0
    runner: str = ""  # pytest | unittest | junit
    command: str = ""
    flaky: tuple[str, ...] = ()  # failed, then passed when run again: out of the pass ratio
    reasons: dict[str, str] = field(default_factory=dict)  # test id -> timeout | collection | killed | ...
    complete: bool = True  # False: the report was left by a session that did not finish
    output: str = field(default="", compare=False, repr=False)  # the command's output: for logs, not saved

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for status in self.tests.values():
            counts[status] = counts.get(status, 0) + 1
        return counts

    @property
    def judged(self) -> dict[str, str]:
        """The tests that count towards the pass ratio: flaky ones left out."""
        flaky = set(self.flaky)
        return {t: s for t, s in self.tests.items() if t not in flaky}

    @property
    def passed(self) -> int:
        return sum(1 for s in self.judged.values() if s == PASSED)

    @property
    def failed(self) -> int:
        return sum(1 for s in self.judged.values() if s == FAILED)

    @property
    def errors(self) -> int:
        return sum(1 for s in self.judged.values() if s == ERROR)

    @property
    def pass_ratio(self) -> float | None:
        total = self.passed + self.failed + self.errors
        return round(self.passed / total, 4) if total else None

    def failures(self) -> list[str]:
        """The ids to run again when looking for flaky tests (collection errors are not tests)."""
        return sorted(t for t, s in self.tests.items()
                      if s in (FAILED, ERROR) and self.reasons.get(t) not in ("collection", "timeout"))

    def to_dict(self) -> dict:
        return {"tests": dict(sorted(self.tests.items())), "counts": self.counts, "pass_ratio": self.pass_ratio,
                "flaky": list(self.flaky), "reasons": dict(sorted(self.reasons.items())),
                "exit_code": self.exit_code, "timed_out": self.timed_out, "duration": self.duration,
                "runner": self.runner, "command": self.command, "complete": self.complete}

    @classmethod
    def from_dict(cls, data: dict) -> "TestRun":
        return cls(tests=_checked_map(data.get("tests", {})), exit_code=data.get("exit_code"),
                   timed_out=bool(data.get("timed_out")), duration=float(data.get("duration") or 0.0),
                   runner=data.get("runner", ""), command=data.get("command", ""),
                   flaky=tuple(data.get("flaky", ())), reasons=dict(data.get("reasons", {})),
                   complete=bool(data.get("complete", True)))


def read_report(path_or_text: str | Path, root: str | Path | None = None) -> dict[str, Any]:
    """The whole report: {"tests", "reasons", "aliases", "runner", "complete"}, from JSON or JUnit XML.

    `path_or_text` is a file, or the text itself; `root` (the repo) resolves JUnit classnames to files.
    """
    text = _text(path_or_text)
    stripped = text.lstrip()
    if stripped.startswith("<"):
        try:
            tests = junit_tests(stripped, str(root) if root else None)
        except Exception as exc:  # ElementTree raises its own ParseError, and ValueError on odd input
            raise R2EError(f"unreadable JUnit XML report: {exc}") from None
        return {"tests": tests, "reasons": {}, "aliases": {}, "runner": "junit", "complete": True}
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise R2EError(f"unreadable test report (neither JSON nor JUnit XML): {exc}") from None
    if isinstance(data, dict) and "tests" not in data:
        data = {"tests": data}  # a bare map
    if not isinstance(data, dict):
        raise R2EError("test report is not a JSON object")
    return {"tests": _checked_map(data["tests"]), "reasons": dict(data.get("reasons") or {}),
            "aliases": dict(data.get("aliases") or {}), "runner": data.get("runner", ""),
            "complete": bool(data.get("complete", True))}


def parse_report(path_or_text: str | Path, root: str | Path | None = None) -> dict[str, str]:
    """test id -> status, from a report file or its text (JSON of installers/sandbox, or JUnit XML)."""
    return read_report(path_or_text, root)["tests"]


def make_run(report: dict[str, Any], *, exit_code: int | None, timed_out: bool = False, duration: float = 0.0,
             command: str = "", runner: str | None = None) -> TestRun:
    return TestRun(tests=dict(report["tests"]), exit_code=exit_code, timed_out=timed_out, duration=duration,
                   runner=runner or report.get("runner", ""), command=command,
                   reasons=dict(report.get("reasons") or {}), complete=bool(report.get("complete", True)))


def merge_rerun(first: TestRun, rerun: TestRun) -> TestRun:
    """Failures of `first` that pass in `rerun` become flaky: kept in the map as first seen, out of the ratio."""
    again = set(first.flaky)
    for test_id, status in first.tests.items():
        if status in (FAILED, ERROR) and rerun.tests.get(test_id) == PASSED:
            again.add(test_id)
    return replace(first, flaky=tuple(sorted(again)), duration=round(first.duration + rerun.duration, 3))


def result_marker(output: str) -> dict | None:
    """The eval script's final machine-readable line, or None if it never got that far."""
    for line in reversed(output.splitlines()):
        if line.startswith(RESULT_MARKER):
            try:
                return json.loads(line[len(RESULT_MARKER):])
            except json.JSONDecodeError:
                return None
    return None


def _text(path_or_text: str | Path) -> str:
    if isinstance(path_or_text, Path):
        return _read(path_or_text)
    if path_or_text.lstrip()[:1] in ("{", "<"):
        return path_or_text
    return _read(Path(path_or_text))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise R2EError(f"cannot read test report {path}: {exc.strerror or exc}") from None


def _checked_map(tests: Any) -> dict[str, str]:
    if not isinstance(tests, dict):
        raise R2EError("test report: 'tests' is not an object of test id -> status")
    bad = sorted({str(s) for s in tests.values() if s not in STATUSES})
    if bad:
        raise R2EError(f"test report: unknown status {', '.join(bad)} (expected one of {', '.join(STATUSES)})")
    return {str(k): v for k, v in tests.items()}
