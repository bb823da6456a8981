"""A circuit breaker shared by every client of one run: after N failed calls in a row, stop calling."""

from __future__ import annotations

import threading


class CircuitBreaker:
    """Thread-safe (generation workers share it). Counts calls that ended in failure, not attempts:
    each call's own retries are already bounded, and a success anywhere resets the count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures = 0
        self._reason: str | None = None  # set once, when the breaker opens

    @property
    def open_reason(self) -> str | None:
        with self._lock:
            return self._reason

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._failures

    def success(self) -> None:
        with self._lock:
            if self._reason is None:
                self._failures = 0

    def failure(self, reason: str, threshold: int) -> bool:
        """Count one failed call; True for exactly one caller: the one whose failure opened the breaker."""
        with self._lock:
            self._failures += 1
            if self._reason is None and threshold > 0 and self._failures >= threshold:
                self._reason = reason
                return True
            return False

    def __reduce__(self):
        # A copy (pickled into a worker process, deep-copied by dataclasses.asdict) starts closed:
        # locks cannot be copied, and another process's calls are its own.
        return (CircuitBreaker, ())

    def __repr__(self) -> str:
        return f"CircuitBreaker(failures={self._failures}, open={self._reason is not None})"
