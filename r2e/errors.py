"""Errors the user caused; the CLI prints them as one line, never as a traceback."""

import click


class R2EError(click.ClickException):
    """A failure caused by the user's input or environment (exit code 1)."""

    exit_code = 1


class R2EUsageError(click.ClickException):
    """Input that cannot be used at all: a bad option value or list file (exit code 2, one line)."""

    exit_code = 2
