"""A small fixture package with functions whose branch counts are known, and a runner driver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[2] / "harness" / "sandbox" / "runner.py"

MOD = '''\
"""Fixture functions."""

import random
import time

SCALE = 10


def classify(x):
    """Sign of x, scaled."""
    if x > 0:
        return SCALE
    elif x < 0:
        return -SCALE
    return 0


def total(values, cap=None):
    """Sum with an optional cap."""
    acc = 0
    for v in values:
        if cap is not None and acc + v > cap:
            break
        acc += v
    return acc


def noisy(x):
    """Not deterministic."""
    return x + random.random()


def slow(x):
    """Never finishes for negative x."""
    while x < 0:
        time.sleep(0.05)
    return x


class Counter:
    """A counter with state."""

    def __init__(self, start=0):
        self.count = start

    def add(self, n):
        """Add n (negative n resets); return the new count."""
        if n < 0:
            self.count = 0
        else:
            self.count += n
        return self.count


def pairs(items):
    """Adjacent pairs of a sequence.

    >>> from pkg.mod import pairs
    >>> list(pairs([1, 2, 3]))
    [(1, 2), (2, 3)]
    >>> list(pairs("ab"))
    [('a', 'b')]
    """
    if len(items) < 2:
        return iter(())
    return zip(items, items[1:])
'''

# (start_line of the def, end_line) for each target, 1-based.
SPANS = {"classify": (9, 15), "total": (18, 25), "noisy": (28, 30), "slow": (33, 37), "Counter.add": (46, 52),
         "pairs": (55, 66)}


def make_fixture_repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True, exist_ok=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text(MOD)
    lines = MOD.splitlines()
    for qual, (start, end) in SPANS.items():  # the fixture's spans must stay true
        name = qual.split(".")[-1]
        indent = lines[start - 1][: len(lines[start - 1]) - len(lines[start - 1].lstrip())]
        assert lines[start - 1].lstrip().startswith(f"def {name}("), (qual, lines[start - 1])
        # the span ends on the body's last line: the next line (if any) is blank or less indented
        assert lines[end - 1].startswith(indent + " ") and lines[end - 1].strip(), (qual, lines[end - 1])
        assert end == len(lines) or not lines[end].startswith(indent + " "), (qual, lines[end])
    return root


def spec_for(repo: Path, qual: str, test_file: Path, **extra) -> dict:
    cls, _, name = qual.rpartition(".")
    start, end = SPANS[qual]
    spec = {"repo_root": str(repo), "path": "pkg/mod.py", "name": name, "class_name": cls or None,
            "start_line": start, "end_line": end, "test_file": str(test_file), "candidate_file": None,
            "per_test_timeout": 5, "run_timeout": 60, "runs": 2, "max_captures": 50}
    spec.update(extra)
    return spec


def run_runner(tmp_path: Path, repo: Path, qual: str, test_code: str, python: str = sys.executable,
               **extra) -> dict:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    test_file = work / "test_harness.py"
    test_file.write_text(test_code)
    spec = spec_for(repo, qual, test_file, **extra)
    (work / "spec.json").write_text(json.dumps(spec))
    proc = subprocess.run([python, str(RUNNER), str(work / "spec.json"), str(work / "out.json")],
                          capture_output=True, text=True, timeout=300, cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((work / "out.json").read_text())
