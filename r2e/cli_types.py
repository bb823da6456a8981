"""Option types shared by the commands.

`FiniteFloat` is click's FloatRange without its hole: `nan` compares false with every bound and
`inf` satisfies any lower bound, so `--min-cov nan` or `--timeout-per-task inf` used to pass.
"""

from __future__ import annotations

import math

import click


class FiniteFloat(click.FloatRange):
    """A finite float, optionally within [min, max]: `FiniteFloat(min=1)`, `FiniteFloat(0.0, 1.0)`."""

    name = "float"

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx) if not isinstance(value, float) else value
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)
