"""Every float option of the commands refuses nan and inf: one such run used to overwrite a good build."""

import pytest
from click.testing import CliRunner

from r2e.cli import cli

CASES = [
    ("genexec", "--min-cov"), ("genexec", "--min-valid"), ("genexec", "--timeout-per-task"),
    ("genexec", "--timeout-per-test"), ("genexec", "--temperature"), ("execute", "--timeout-per-test"),
    ("export", "--min-cov"), ("carve", "--suite-timeout"), ("build", "--timeout-per-task"),
    ("build", "--test-timeout"), ("build", "--min-pass-ratio"), ("build", "--min-free-gb"),
    ("setup", "--clone-timeout"), ("perf quickcheck", "--min-time"), ("perf measure", "--count-fraction"),
    ("perf measure", "--min-speedup"),
]


@pytest.mark.parametrize("command,option", CASES)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_values_are_usage_errors(tmp_path, command, option, value):
    args = ["--home", str(tmp_path / "home"), *command.split(), "-e", "x", f"{option}={value}"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert option in result.output and "Traceback" not in result.output
    assert not (tmp_path / "home" / "experiments").exists()
