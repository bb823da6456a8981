"""The shared LLM options: finite positive values only, passed into the run's LLMConfig."""

import click
import pytest
from click.testing import CliRunner

from r2e.llm.options import config_from_options, llm_options


@click.command()
@llm_options
def show(model, base_url, max_tokens, llm_timeout, llm_max_failures):
    config = config_from_options(model, base_url, max_tokens, llm_timeout, llm_max_failures)
    click.echo(f"{config.max_tokens} {config.timeout} {config.max_failures} {config.max_tokens_for('repair')}")


def test_options_reach_the_config(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    result = CliRunner().invoke(show, ["--model", "m", "--max-tokens", "64", "--llm-timeout", "5",
                                       "--llm-max-failures", "0"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["64", "5.0", "0", "64"]
    defaults = CliRunner().invoke(show, ["--model", "m"])
    assert defaults.output.split() == ["None", "60.0", "3", "512"]


@pytest.mark.parametrize("args", [
    ["--llm-timeout", "nan"], ["--llm-timeout", "inf"], ["--llm-timeout", "0"], ["--llm-timeout", "-1"],
    ["--max-tokens", "0"], ["--max-tokens", "1.5"], ["--llm-max-failures", "-1"],
])
def test_bad_values_are_refused_in_one_line(args):
    result = CliRunner().invoke(show, ["--model", "m", *args])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_config_refuses_non_finite_values():
    from r2e.errors import R2EUsageError
    from r2e.llm import LLMConfig

    for bad in ({"timeout": float("nan")}, {"request_budget": float("inf")}, {"max_tokens": 0},
                {"max_failures": -1}):
        with pytest.raises(R2EUsageError):
            LLMConfig(model="m", **bad)
