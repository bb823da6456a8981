"""Statistics of a measurement, in pure Python: medians, a bootstrap interval of the ratio of medians,
and the Mann-Whitney U test (normal approximation with tie correction, two-sided)."""

from __future__ import annotations

import math
import random
from statistics import median


def speedup(a: list[float], b: list[float]) -> float | None:
    mb = median(b) if b else 0
    return median(a) / mb if a and mb > 0 else None


def bootstrap_ci(a: list[float], b: list[float], *, n: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float | None, float | None]:
    """Percentile interval of median(A*)/median(B*) over resamples of A and B with replacement."""
    if len(a) < 2 or len(b) < 2:
        return None, None
    rng = random.Random(seed)
    ratios = []
    for _ in range(n):
        mb = median(rng.choices(b, k=len(b)))
        if mb > 0:
            ratios.append(median(rng.choices(a, k=len(a))) / mb)
    ratios.sort()
    if not ratios:
        return None, None
    lo = ratios[int((1 - level) / 2 * (len(ratios) - 1))]
    hi = ratios[int((1 + level) / 2 * (len(ratios) - 1))]
    return lo, hi


def mann_whitney_u(a: list[float], b: list[float]) -> tuple[float, float]:
    """(U of sample a, two-sided p-value): normal approximation with tie correction and continuity."""
    n1, n2 = len(a), len(b)
    if not n1 or not n2:
        return 0.0, 1.0
    values = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(values)
    ties = 0.0
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1][0] == values[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, values) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    mu = n1 * n2 / 2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0
    if var <= 0:
        return u1, 1.0
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)
    p = math.erfc(max(z, 0.0) / math.sqrt(2))
    return u1, min(1.0, p)


def cv(values: list[float]) -> float | None:
    """Coefficient of variation (sample standard deviation / mean)."""
    if len(values) < 2:
        return None
    m = sum(values) / len(values)
    if m == 0:
        return None
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
    return sd / m
