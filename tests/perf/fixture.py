"""A small repository with a real git history of performance claims, made in a temporary folder.

    initial            summarize (three passes), checksum, dedupe, their tests and an asv benchmark
    speed-up           "Speed up summarize: square each value once" -- about 3x faster, same answers
    cosmetic           "Speed: rename locals in checksum" -- no change in speed
    wrong              "Make dedupe faster with a set" -- faster, but loses the order (a wrong answer)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

INIT = '"""Small numeric helpers."""\n'

STATS_A = '''"""Statistics over lists of numbers."""


def _square(x):
    return x * x


def summarize(xs):
    """Sum, largest and smallest of the squares of xs."""
    total = 0
    for x in xs:
        total += _square(x)
    hi = max(_square(x) for x in xs)
    lo = min(_square(x) for x in xs)
    return total, hi, lo


def checksum(xs):
    """A position-weighted checksum."""
    acc = 0
    for i, x in enumerate(xs):
        acc = (acc * 31 + x * (i + 1)) % 1000003
    return acc


def dedupe(items):
    """The items without repeats, in order of first appearance."""
    out = []
    seen = set()
    for x in items:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out
'''

SUMMARIZE_B = '''def summarize(xs):
    """Sum, largest and smallest of the squares of xs."""
    squares = [_square(x) for x in xs]
    return sum(squares), max(squares), min(squares)
'''

CHECKSUM_OLD = '''    acc = 0
    for i, x in enumerate(xs):
        acc = (acc * 31 + x * (i + 1)) % 1000003
    return acc
'''
CHECKSUM_NEW = '''    total = 0
    for position, value in enumerate(xs):
        total = (total * 31 + value * (position + 1)) % 1000003
    return total
'''

DEDUPE_OLD = '''    out = []
    seen = set()
    for x in items:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out
'''
DEDUPE_NEW = '''    return list(set(items))
'''

TESTS = '''from pkg.stats import checksum, dedupe, summarize


def test_summarize():
    xs = [(i * 37) % 101 - 50 for i in range(300)]
    total, hi, lo = summarize(xs)
    assert hi >= lo >= 0 and total >= hi


def test_checksum():
    assert checksum(list(range(400))) == checksum(list(range(400)))


def test_dedupe():
    items = [(i * 7) % 23 for i in range(300)]
    assert sorted(dedupe(items)) == sorted(set(items))
'''


BENCH = '''"""asv-style benchmarks."""
from pkg.stats import summarize


class Summaries:
    def setup(self):
        self.xs = [(i * 37) % 101 - 50 for i in range(300)]

    def time_summarize(self):
        for _ in range(20):
            summarize(self.xs)
'''


def _git(path: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True, text=True).stdout.strip()


def _commit(path: Path, message: str) -> str:
    _git(path, "add", "-A")
    _git(path, "-c", "user.name=Perf Fixture", "-c", "user.email=perf@example.com", "commit", "-q", "-m", message)
    return _git(path, "rev-parse", "HEAD")


def make_perf_repo(path: Path) -> dict[str, str]:
    """The fixture repository at `path`; returns the SHAs by role (initial, speedup, cosmetic, wrong)."""
    (path / "pkg").mkdir(parents=True)
    (path / "tests").mkdir()
    (path / "pkg" / "__init__.py").write_text(INIT)
    stats = path / "pkg" / "stats.py"
    stats.write_text(STATS_A)
    (path / "tests" / "test_stats.py").write_text(TESTS)
    (path / "benchmarks").mkdir()
    (path / "benchmarks" / "bench_stats.py").write_text(BENCH)
    _git(path, "init", "-q", "-b", "main")
    shas = {"initial": _commit(path, "Statistics helpers with tests")}
    text = stats.read_text()
    start = text.index("def summarize")
    end = text.index("def checksum")
    stats.write_text(text[:start] + SUMMARIZE_B + "\n\n" + text[end:])
    shas["speedup"] = _commit(path, "Speed up summarize: square each value once")
    stats.write_text(stats.read_text().replace(CHECKSUM_OLD, CHECKSUM_NEW))
    shas["cosmetic"] = _commit(path, "Speed: rename locals in checksum for readability")
    stats.write_text(stats.read_text().replace(DEDUPE_OLD, DEDUPE_NEW))
    shas["wrong"] = _commit(path, "Make dedupe faster with a set")
    return shas
