"""The setup stage: bring sources into the workspace and an experiment, one line per entry.

`r2e setup`, the standalone batch installer and `r2e quickstart` call `run_setup`.
"""

from __future__ import annotations

import click

from r2e.intake.setup import SetupOptions, SetupOutcome, SetupRun
from r2e.intake.sources import RepoSource
from r2e.progress import progress
from r2e.workspace import Workspace

STATUS_WIDTH = 8


def outcome_line(o: SetupOutcome) -> str:
    name = o.repo_id or repr(o.entry)
    return f"{o.status:<{STATUS_WIDTH}}{name}  {o.reason}".rstrip()


def run_setup(ws: Workspace, exp: str, sources: list[RepoSource], bad: list[SetupOutcome], opts: SetupOptions,
              jobs: int) -> list[SetupOutcome]:
    """Set up the sources and print one line per entry plus a summary; returns all outcomes.

    `bad` are entries that could not be parsed: reported as failed, never an abort."""
    ws.load_manifest(exp, must_exist=False)  # an unreadable manifest stops here, before anything is cloned
    outcomes = list(bad)
    with progress(len(sources) + len(bad), "setup") as bar:
        for o in bad:
            bar.advance(o.status, outcome_line(o))
        outcomes += SetupRun(ws, exp, opts).run(sources, jobs, on_outcome=lambda o: bar.advance(o.status, outcome_line(o)))
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "skipped", "failed")}
    click.echo(f"setup {exp}: {counts['ok']} ok, {counts['skipped']} skipped, {counts['failed']} failed")
    return outcomes
