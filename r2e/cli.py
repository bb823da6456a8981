"""The `r2e` command line. Subcommands load lazily so `r2e --help` stays fast and import-light."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from r2e import __version__

# name -> "module:attribute", imported only when the command runs
COMMANDS: dict[str, str] = {
    "setup": "r2e.commands.setup_cmd:setup",
    "repos": "r2e.commands.setup_cmd:repos",
    "quickstart": "r2e.commands.quickstart:quickstart",
    "seart": "r2e.commands.seart_cmd:seart",
    "report": "r2e.commands.report_cmd:report",
    "extract": "r2e.commands.extract_cmd:extract",
    "list-functions": "r2e.commands.extract_cmd:list_functions",
    "show": "r2e.commands.extract_cmd:show",
    "graph": "r2e.commands.extract_cmd:graph",
    "execute": "r2e.commands.harness_cmds:execute",
    "generate": "r2e.commands.harness_cmds:generate",
    "genexec": "r2e.commands.harness_cmds:genexec",
    "export": "r2e.commands.harness_cmds:export",
    "build": "r2e.commands.build_cmd:build",
    "images": "r2e.commands.build_cmd:images",
    "carve": "r2e.commands.carve_cmd:carve",
    "agent": "r2e.commands.agent_cmd:agent",
    "normalize": "r2e.commands.normalize_cmd:normalize",
    "scripted-model": "r2e.commands.scripted_model_cmd:scripted_model",
    "tasks": "r2e.commands.tasks_cmd:tasks",
    "perf": "r2e.commands.perf_cmd:perf",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


VIRTUAL_ROOTS = ("/proc", "/sys")


def check_home(ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> str | None:
    """A workspace folder that can exist: not a file, not under a file, not in /proc or /sys.

    Checked before any command runs, so a bad home is one line, not a traceback from deep inside a stage."""
    from r2e.errors import R2EUsageError

    if value is None or not value.strip():  # an empty $R2E_HOME means the default, as default_home() reads it
        return None
    path = Path(os.path.abspath(os.path.expanduser(value)))
    for root in VIRTUAL_ROOTS:
        if path == Path(root) or Path(root) in path.parents:
            raise R2EUsageError(f"--home {value}: {root} is a virtual file system, not a place for a workspace")
    probe = path
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        where = "is a file" if probe == path else f"is under {probe}, which is not a folder"
        raise R2EUsageError(f"--home {value}: {where}")
    if probe != path and not os.access(probe, os.W_OK | os.X_OK):
        raise R2EUsageError(f"--home {value}: cannot be created ({probe} is not writable)")
    return value


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--home",
    type=click.Path(),
    envvar="R2E_HOME",
    callback=check_home,
    help="Workspace folder (default: $R2E_HOME or ~/.r2e).",
)
@click.version_option(__version__, prog_name="r2e")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """R2E: turn code repositories into executable environments for code-generating models."""
    from r2e.workspace import Workspace

    ctx.obj = Workspace(home)


def main(argv: list[str] | None = None) -> None:
    try:
        # Without standalone mode click returns the code of a command's Exit instead of exiting.
        code = cli.main(args=argv, prog_name="r2e", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(141)
    sys.exit(code if isinstance(code, int) else 0)
