"""`r2e scripted-model serve`: the bundled deterministic model as an OpenAI-compatible endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import click

from r2e.errors import R2EUsageError


@click.group("scripted-model")
def scripted_model() -> None:
    """A deterministic OpenAI-compatible model that answers from a script (no API key, no network)."""


@scripted_model.command()
@click.option("--script", "script_path", type=click.Path(dir_okay=False), default=None,
              help='JSON list of {"match": TEXT, "replies": [...]} entries.')
@click.option("--tasks", "tasks_path", type=click.Path(dir_okay=False), default=None,
              help="A tasks.jsonl: one entry per task that applies its gold patch with file_editor, then submits.")
@click.option("--workdir", default=None,
              help="Where the fix scripts' paths point [default: each task's, else /testbed].")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0: any free port.")
def serve(script_path, tasks_path, workdir, host, port) -> None:
    """Serve until Ctrl-C; prints the base URL to give `r2e agent run --base-url`."""
    from r2e.llm.scripted_model import ScriptedServer, fix_script_for, load_script

    script: list[dict] = load_script(script_path) if script_path else []
    if tasks_path:
        from harness.agents.dataset import read_rows

        for number, row in read_rows(Path(tasks_path)):
            if not isinstance(row, dict):
                raise R2EUsageError(f"{tasks_path}: row {number} is not a JSON object")
            script.append(fix_script_for(row, workdir=workdir))
    try:
        server = ScriptedServer(script, host, port)
    except OSError as exc:
        raise R2EUsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    click.echo(f"scripted model: {len(script)} conversation(s) at {server.base_url} (any model name); Ctrl-C stops it")
    click.echo(json.dumps({"base_url": server.base_url}), nl=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
