"""nan and inf are refused by float options (click's FloatRange lets both through)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from r2e.cli_types import FiniteFloat


def _cmd(kind):
    @click.command()
    @click.option("--x", type=kind, default=0.5)
    def cmd(x):
        click.echo(f"x={x!r}")

    return cmd


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"])
@pytest.mark.parametrize("kind", [FiniteFloat(), FiniteFloat(min=1), FiniteFloat(0.0, 1.0)])
def test_non_finite_is_a_usage_error(value, kind):
    r = CliRunner().invoke(_cmd(kind), ["--x", value])
    assert r.exit_code == 2 and "x=" not in r.output
    assert "not a finite number" in r.output and "Traceback" not in r.output


def test_click_range_alone_lets_them_through():
    # the hole FiniteFloat closes: if click ever closes it, this test says so
    r = CliRunner().invoke(_cmd(click.FloatRange(0.0, 1.0)), ["--x", "nan"])
    assert r.exit_code == 0 and "x=nan" in r.output


@pytest.mark.parametrize("kind, value, ok", [
    (FiniteFloat(0.0, 1.0), "0.8", "x=0.8"), (FiniteFloat(min=1), "1", "x=1.0"), (FiniteFloat(), "-3.5", "x=-3.5"),
])
def test_finite_values_pass(kind, value, ok):
    r = CliRunner().invoke(_cmd(kind), ["--x", value])
    assert r.exit_code == 0 and ok in r.output


@pytest.mark.parametrize("kind, value", [(FiniteFloat(0.0, 1.0), "1.5"), (FiniteFloat(min=1), "0.5"), (FiniteFloat(), "abc")])
def test_bounds_and_words_still_checked(kind, value):
    r = CliRunner().invoke(_cmd(kind), ["--x", value])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_default_and_help_unchanged():
    r = CliRunner().invoke(_cmd(FiniteFloat(0.0, 1.0)), [])
    assert r.exit_code == 0 and "x=0.5" in r.output
    h = CliRunner().invoke(_cmd(FiniteFloat(0.0, 1.0)), ["--help"])
    assert "0.0<=x<=1.0" in h.output
