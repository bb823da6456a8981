"""A fixture repo with a pytest suite for carving: state, mutation, unpicklable and large inputs,
non-determinism, exceptions, a duplicate call, a class defined in a test module, an uncalled function."""

from __future__ import annotations

from pathlib import Path

MOD = '''\
"""Carving fixture."""

import random


def classify(x):
    if x > 0:
        return "pos"
    elif x < 0:
        return "neg"
    if x != x:
        raise ValueError("nan")
    return "zero"


def append_all(target, items):
    """Mutates target; returns how many were added."""
    for item in items:
        target.append(item)
    return len(items)


def apply(fn, x):
    return fn(x)


def total(values):
    return sum(values)


def noisy(x):
    return x + random.random()


def describe(obj):
    return type(obj).__name__ + ":" + str(getattr(obj, "value", None))


def grade(score):
    if score >= 90:
        return "A"
    if score >= 50:
        return "B"
    return "C"


def never_called(x):
    return x


def pairs(n):
    for i in range(n):
        yield i, i * i


class Counter:
    def __init__(self, start=0):
        self.count = start
        self.history = []

    def add(self, n):
        if n < 0:
            self.count = 0
        else:
            self.count += n
        self.history.append(n)
        return self.count

    @staticmethod
    def double(x):
        return 2 * x
'''

TESTS = '''\
import pytest

from pkg.mod import Counter, append_all, apply, classify, describe, grade, noisy, pairs, total


def test_grade():
    assert grade(95) == "A"  # the only branch the suite takes


def test_classify():
    assert classify(3) == "pos"
    assert classify(-2) == "neg"
    assert classify(0) == "zero"
    assert classify(3) == "pos"  # a duplicate call
    with pytest.raises(ValueError):
        classify(float("nan"))


def test_append_all():
    target = [1]
    assert append_all(target, [2, 3]) == 2
    assert target == [1, 2, 3]


def test_apply():
    assert apply(lambda v: v + 1, 1) == 2  # pickle cannot name a lambda: carved by value
    assert apply(abs, -4) == 4
    assert apply(list, (i for i in range(2))) == [0, 1]  # a generator does not pickle at all


def test_total_large_and_small():
    assert total(list(range(200000))) == 19999900000
    assert total([1, 2]) == 3


def test_noisy():
    assert 1 <= noisy(1) < 2
    assert 5 <= noisy(5) < 6


class Local:
    value = 7


def test_describe():
    assert describe(Local()) == "Local:7"  # its class lives in this test module
    assert describe(3) == "int:None"


def test_pairs():
    assert list(pairs(3)) == [(0, 0), (1, 1), (2, 4)]


def test_counter():
    c = Counter(5)
    assert c.add(2) == 7
    assert c.add(-1) == 0
    assert c.history == [2, -1]
    assert Counter.double(4) == 8


def test_many_calls():
    c = Counter()
    for i in range(50):
        c.add(i)
'''


def make_carve_repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True, exist_ok=True)
    (root / "tests").mkdir(parents=True, exist_ok=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text(MOD)
    (root / "tests" / "test_mod.py").write_text(TESTS)
    return root
