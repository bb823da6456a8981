"""extracted.jsonl for fixture repos, made by the real extraction (`r2e extract`), so every harness
test goes through the extract -> harness seam: the records the harness reads are the ones extraction
writes. Only the `dunder` filter stays on (the fixtures' small functions would fail the others)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from click.testing import CliRunner

from r2e.analysis.filters import FILTERS
from r2e.cli import cli
from r2e.experiment import Experiment
from r2e.stage_records import FunctionRecord
from r2e.workspace import Workspace

FILTERS_OFF = [f"--disable-{name.replace('_', '-')}" for name in FILTERS if name != "dunder"]


def _r2e(home: Path, *args: str) -> None:
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def extract(home: Path, exp: str, paths: list[str], keep: Callable[[FunctionRecord], bool] = lambda r: True
            ) -> list[FunctionRecord]:
    """Run `r2e extract` on the (set up) experiment; keep the functions of `paths` that `keep` accepts."""
    _r2e(home, "extract", "-e", exp, "--overwrite", *FILTERS_OFF)
    experiment = Experiment(Workspace(home), exp)
    records = [r for r in experiment.functions() if r.path in paths and keep(r)]
    assert records, f"extraction found none of the wanted functions in {paths}"
    experiment.write_functions(records)
    return records


def setup_and_extract(home: Path, exp: str, checkout: Path, paths: list[str],
                      keep: Callable[[FunctionRecord], bool] = lambda r: True) -> list[FunctionRecord]:
    """`r2e setup -l checkout` then `extract`: the records of a fixture repo, as the pipeline makes them."""
    _r2e(home, "setup", "-e", exp, "-l", str(checkout))
    return extract(home, exp, paths, keep)


def by_qualname(records: list[FunctionRecord]) -> dict[str, FunctionRecord]:
    return {r.qualname: r for r in records}
