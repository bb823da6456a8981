"""Boring concurrency: run a function over items with N workers, failures returned as data."""

from __future__ import annotations

import concurrent.futures as cf
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence


@dataclass(frozen=True)
class Failure:
    item: Any
    error: BaseException

    @property
    def message(self) -> str:
        return f"{type(self.error).__name__}: {self.error}"


def default_workers(io_bound: bool = True) -> int:
    cores = os.cpu_count() or 1
    return min(8, cores * 2) if io_bound else max(1, cores)


def run_pool(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    workers: int = 1,
    *,
    processes: bool = False,
    on_done: Callable[[Any, Any, BaseException | None], None] | None = None,
) -> tuple[list[tuple[Any, Any]], list[Failure]]:
    """Apply `fn` to every item; return ([(item, result)], [Failure]).

    Sequential when workers <= 1. `on_done(item, result, error)` runs in the calling thread
    as each item finishes (progress, incremental saves). Ctrl-C cancels pending work and
    re-raises after running work has been abandoned.
    """
    items: Sequence[Any] = list(items)
    ok: list[tuple[Any, Any]] = []
    failed: list[Failure] = []

    def record(item: Any, result: Any, error: BaseException | None) -> None:
        if error is None:
            ok.append((item, result))
        else:
            failed.append(Failure(item, error))
        if on_done is not None:
            on_done(item, result, error)

    if workers <= 1 or len(items) <= 1:
        for item in items:
            try:
                result = fn(item)
            except Exception as exc:  # failures are data; KeyboardInterrupt propagates
                record(item, None, exc)
            else:
                record(item, result, None)
        return ok, failed

    executor_cls = cf.ProcessPoolExecutor if processes else cf.ThreadPoolExecutor
    executor = executor_cls(max_workers=workers)
    try:
        futures = {executor.submit(fn, item): item for item in items}
        for future in cf.as_completed(futures):
            item = futures[future]
            try:
                result = future.result()
            except Exception as exc:
                record(item, None, exc)
            else:
                record(item, result, None)
    except KeyboardInterrupt:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        executor.shutdown(wait=True)
    return ok, failed
