"""A progress bar for long batches on a terminal, plain lines otherwise (logs, CI)."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

import click


class Progress:
    def __init__(self, total: int, description: str, enabled: bool):
        self.total, self.description, self.enabled = total, description, enabled
        self._bar = None
        self._task = None
        self.counts: dict[str, int] = {}

    def advance(self, status: str, line: str | None = None) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        if line:
            if self._bar is not None:
                self._bar.console.print(line, markup=False, highlight=False)
            else:
                click.echo(line)
        if self._bar is not None:
            tally = " ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
            self._bar.update(self._task, advance=1, description=f"{self.description} [{tally}]")


@contextlib.contextmanager
def progress(total: int, description: str) -> Iterator[Progress]:
    """Show a rich progress bar when stdout is a terminal and the batch has several items."""
    enabled = sys.stdout.isatty() and total > 1
    p = Progress(total, description, enabled)
    if not enabled:
        yield p
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

    with RichProgress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        p._bar, p._task = bar, bar.add_task(description, total=total)
        yield p
