"""`CarveGenerator`: harnesses from carved samples, with an optional fallback generator.

- `carve` (no fallback): a function with kept samples gets the carved harness; one without gets
  no test (the reason from the carving report).
- `auto` (fallback = the LLM when configured, else the offline generator): functions without
  samples go to the fallback; a carved harness that is valid but under-covered is merged, in later
  rounds, with a test from the fallback (fed the carved harness's coverage feedback) to raise coverage.

In later rounds a carved harness whose samples failed is rewritten without the failing samples.
"""

from __future__ import annotations

import re

from harness.carve.store import SampleStore
from harness.carve.writer import is_carved, merge, without_samples, write_harness
from harness.generators import Attempt, Generated, HarnessGenerator
from r2e.stage_records import FunctionRecord, HarnessResult

_SAMPLE_TEST = re.compile(r"test_carved_\d+_([0-9a-f]{8})")


class CarveGenerator:
    name = "carve"

    def __init__(self, store: SampleStore, fallback: HarnessGenerator | None = None, min_cov: float = 0.8):
        self.store, self.fallback, self.min_cov = store, fallback, min_cov
        if fallback is not None:
            self.name = f"carve+{fallback.name}"

    def carved(self, record: FunctionRecord) -> str | None:
        samples = self.store.samples(record)
        if not samples:
            return None
        try:
            return write_harness(record, samples)
        except ValueError:
            return None

    def why_not(self, record: FunctionRecord) -> str:
        entry = self.store.function_entry(record)
        if entry is None:
            report = self.store.report(record.repo)
            if report is None:
                return "no carved samples: the repo was not carved"
            return f"no carved samples: carving {report.get('status')} ({report.get('error', '')})".rstrip(" ()")
        detail = f"; dropped {entry['dropped']}" if entry.get("dropped") else ""
        return f"no carved samples: {entry['status']}{detail}"

    def generate(self, record: FunctionRecord, previous: Attempt | None, round_no: int) -> Generated:
        carved = self.carved(record)
        if carved is None:
            if self.fallback is not None:
                return self.fallback.generate(record, previous, round_no)
            return Generated([], error=self.why_not(record))
        if previous is None or not is_carved(previous.test):
            return Generated([carved])
        result = previous.result
        failing = failed_samples(result)
        if failing:  # drop the samples that failed, keep the rest
            trimmed = without_samples(previous.test, failing)
            if "    (\"" in trimmed:
                return Generated([trimmed])
            if self.fallback is not None:
                return self.fallback.generate(record, None, round_no)
            return Generated([], error="every carved sample failed in the harness")
        if self.fallback is None:
            return Generated([], error="no more carved samples than the previous round's")
        if result.valid and result.branch_coverage >= self.min_cov:
            return Generated([], error="already covered")
        base = carved_part(previous.test)
        generated = self.fallback.generate(record, previous if result.valid else None, round_no)
        generated.tests = [merge(t, base) for t in generated.tests]
        return generated


def failed_samples(result: HarnessResult) -> set[str]:
    """The 8-hex sha prefixes of the carved samples whose tests did not pass."""
    prefixes = set()
    for test in result.tests:
        if test.get("outcome") not in ("passed", "skipped"):
            m = _SAMPLE_TEST.search(test.get("id", ""))
            if m:
                prefixes.add(m.group(1))
    return prefixes


def carved_part(test: str) -> str:
    """The carved block of a (possibly merged) harness."""
    marker = "# r2e-carved-harness"
    at = test.find(marker)
    if at <= 0:
        return test
    line_end = test.find("\n", at)
    return marker + "\n" + test[line_end + 1:]
