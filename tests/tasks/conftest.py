"""A tiny real repository with pytest tests, set up, extracted and built once per module (local backend)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import make_git_repo

OPS = '''"""Tiny arithmetic helpers."""


def add(a, b):
    """Return the sum of a and b."""
    return a + b


def is_adult(age):
    """Whether someone of this age is an adult (18 or older)."""
    return age >= 18


def double(x):
    """Twice x."""
    return x * 2
'''

TESTS = '''from calc.ops import add, is_adult


def test_add():
    assert add(2, 3) == 5


def test_add_zero():
    assert add(0, 0) == 0


def test_adult():
    assert is_adult(30)


def test_child():
    assert not is_adult(5)
'''

FILES = {
    "pyproject.toml": '[project]\nname = "calc"\nversion = "0.1.0"\nrequires-python = ">=3.8"\n'
                      '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
                      '[tool.setuptools]\npackages = ["calc"]\n',
    "calc/__init__.py": "",
    "calc/ops.py": OPS,
    "tests/test_ops.py": TESTS,
}
ADD_FIX_LINE = "    return a + b"


class Built:
    """The workspace (home), its experiment `x` and the CLI bound to that home."""

    def __init__(self, home: Path, repo: Path):
        self.home, self.repo = home, repo
        self.exp_dir = home / "experiments" / "x"

    def cli(self, *args: str):
        from r2e.cli import cli

        return CliRunner().invoke(cli, ["--home", str(self.home), *args], catch_exceptions=False)

    @property
    def checkout(self) -> Path:
        """The tree the repo's environment runs in (a local build keeps its own checkout)."""
        result = json.loads((self.exp_dir / "build" / "local__calc" / "result.json").read_text())
        return Path(result["workdir"])

    def reset(self) -> None:
        """Forget earlier candidates; the built environment, its coverage and clean baseline stay (same tree)."""
        for folder in (self.exp_dir / "tasks").glob("*"):
            shutil.rmtree(folder / "candidates", ignore_errors=True)
            (folder / "llm_rewrites.json").unlink(missing_ok=True)
        for name in ("tasks.jsonl", "tasks_summary.json"):
            (self.exp_dir / name).unlink(missing_ok=True)

    def tasks(self) -> list[dict]:
        return [json.loads(line) for line in (self.exp_dir / "tasks.jsonl").read_text().splitlines()]

    def summary(self) -> dict:
        return json.loads((self.exp_dir / "tasks_summary.json").read_text())


def build(tmp: Path, backend: str) -> Built:
    repo = tmp / "calc"
    make_git_repo(repo, FILES)
    built = Built(tmp / "home", repo)
    for args in (("setup", "-e", "x", "-l", str(repo)), ("extract", "-e", "x"),
                 ("build", "-e", "x", "--backend", backend, "--no-llm")):
        result = built.cli(*args)
        assert result.exit_code == 0, result.output
    return built


@pytest.fixture(scope="module")
def built_local(tmp_path_factory) -> Built:
    return build(tmp_path_factory.mktemp("tasks-local"), "local")
