"""Per-test statuses of one eval run, and the small grading normalisation needs over those maps.

Statuses come from R2E's report (when the eval script is R2E's /run_tests.sh, the reporters' JSON) or else
from the log: pytest's `-rA` short summary (`PASSED tests/x.py::t`, `FAILED tests/x.py::t - msg`) or its
verbose lines (`tests/x.py::t PASSED`), as SWE-bench's harness reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from installers.test_results import STATUSES, read_report

PASSED = "PASSED"
KEPT = ("PASSED", "SKIPPED")  # as SWE-bench grades: a skipped PASS_TO_PASS test is fine, a skipped FAIL_TO_PASS is not
_ALIASES = {"XPASS": PASSED, "XFAIL": "XFAIL", "ERROR": "ERROR", "FAILED": "FAILED", "SKIPPED": "SKIPPED",
            "PASSED": PASSED}
_SUMMARY = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\s+(\S+?)(?:\s+-\s.*)?\s*$")
_VERBOSE = re.compile(r"^(\S+::\S+)\s+(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)(?:\s|$)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_log(log: str) -> dict[str, str]:
    """test id -> status (PASSED | FAILED | ERROR | SKIPPED | XFAIL) from an eval log; later lines win."""
    tests: dict[str, str] = {}
    for raw in log.splitlines():
        line = _ANSI.sub("", raw).strip()
        m = _SUMMARY.match(line)
        if m:
            status, test = m.group(1), m.group(2)
        else:
            m = _VERBOSE.match(line)
            if not m:
                continue
            test, status = m.group(1), m.group(2)
        if status == "SKIPPED" and test.startswith("["):  # `SKIPPED [1] file:line: reason` names no test
            continue
        tests[test] = _ALIASES[status]
    return tests


def parse_run(log: str, report_text: str | None) -> dict[str, str]:
    """R2E's report when the run wrote one, else the log."""
    if report_text and report_text.strip():
        try:
            tests = read_report(report_text)["tests"]
            if tests:
                return {t: s if s in STATUSES else "ERROR" for t, s in tests.items()}
        except Exception:  # an unreadable report: the log is still evidence
            pass
    return parse_log(log)


@dataclass(frozen=True)
class Verdict:
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...]
    flaky: tuple[str, ...]
    reason: str | None = None  # a REASONS value when the instance fails
    detail: str = ""
    derived: bool = False  # the lists were made from the runs (none were given)


def flaky_between(runs: list[dict[str, str]]) -> set[str]:
    """Tests whose status differs between runs of the same configuration."""
    flaky = set()
    for a, b in zip(runs, runs[1:]):
        for test in set(a) | set(b):
            if a.get(test) != b.get(test):
                flaky.add(test)
    return flaky


def judge_patched(gold: list[dict[str, str]], empty: list[dict[str, str]],
                  f2p: tuple[str, ...] | None, p2p: tuple[str, ...] | None) -> Verdict:
    """Gold passes FAIL_TO_PASS and keeps PASS_TO_PASS, empty fails FAIL_TO_PASS, in every run; flaky ones out."""
    flaky = flaky_between(gold) | flaky_between(empty)
    derived = f2p is None and p2p is None
    if derived:  # SWE-bench's validation: made from what the runs show
        f2p = tuple(sorted(t for t, s in gold[0].items() if s == PASSED and empty[0].get(t) != PASSED))
        p2p = tuple(sorted(t for t, s in gold[0].items() if s == PASSED and empty[0].get(t) == PASSED))
    f2p_kept = tuple(t for t in (f2p or ()) if t not in flaky)
    p2p_kept = tuple(t for t in (p2p or ()) if t not in flaky)
    base = dict(fail_to_pass=f2p_kept, pass_to_pass=p2p_kept, flaky=tuple(sorted(flaky)), derived=derived)
    if not f2p_kept:
        reason = "all_flaky" if f2p else "gold_fails"
        return Verdict(**base, reason=reason, detail="no FAIL_TO_PASS test left to judge by"
                       + (f" ({len(f2p)} flaky)" if f2p else ": the gold patch makes no test pass"))
    for run in gold:
        bad = [t for t in f2p_kept if run.get(t) != PASSED]
        if bad:
            return Verdict(**base, reason="gold_fails", detail=f"with the gold patch {_few(bad)} do(es) not pass")
        broken = [t for t in p2p_kept if run.get(t) not in KEPT]
        if broken:
            return Verdict(**base, reason="gold_fails", detail=f"with the gold patch PASS_TO_PASS {_few(broken)} fail(s)")
    for run in empty:
        passing = [t for t in f2p_kept if run.get(t) == PASSED]
        if passing:
            return Verdict(**base, reason="empty_passes", detail=f"without the gold patch {_few(passing)} pass(es)")
    return Verdict(**base)


def judge_plain(runs: list[dict[str, str]], f2p: tuple[str, ...] | None, p2p: tuple[str, ...] | None) -> Verdict:
    """No patch to judge by: the eval must name tests, and PASS_TO_PASS must pass in every run."""
    flaky = flaky_between(runs)
    base = dict(fail_to_pass=tuple(t for t in (f2p or ()) if t not in flaky),
                pass_to_pass=tuple(t for t in (p2p or ()) if t not in flaky), flaky=tuple(sorted(flaky)))
    if not any(runs):
        return Verdict(**base, reason="eval_no_tests", detail="the eval log names no test with a status")
    for run in runs:
        broken = [t for t in base["pass_to_pass"] if run.get(t) not in KEPT]
        if broken:
            return Verdict(**base, reason="p2p_fails", detail=f"PASS_TO_PASS {_few(broken)} fail(s) at base_commit")
    return Verdict(**base)


def _few(tests: list[str], n: int = 3) -> str:
    shown = ", ".join(tests[:n])
    return shown + (f" and {len(tests) - n} more" if len(tests) > n else "")
