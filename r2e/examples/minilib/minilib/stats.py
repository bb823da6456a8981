"""Small statistics."""

from minilib.constants import EPSILON


def mean(values):
    """Arithmetic mean of a non-empty sequence of numbers."""
    if not values:
        raise ValueError("mean of an empty sequence")
    return sum(values) / len(values)


def median(values):
    """Median of a non-empty sequence of numbers."""
    if not values:
        raise ValueError("median of an empty sequence")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def clamp(value, low, high):
    """Limit `value` to the closed interval [low, high]."""
    if low > high:
        raise ValueError("low must not exceed high")
    if value < low:
        return low
    if value > high:
        return high
    return value


def normalize(values):
    """Scale values linearly to [0, 1]; a constant sequence maps to all zeros."""
    if not values:
        return []
    low, high = min(values), max(values)
    span = high - low
    if span < EPSILON:
        return [0.0 for _ in values]
    return [clamp((v - low) / span, 0.0, 1.0) for v in values]
