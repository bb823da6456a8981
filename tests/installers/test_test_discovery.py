"""Test-command discovery over small repository trees, one per kind of source maintainers use."""

import os
import textwrap
from pathlib import Path

import pytest

from installers.test_discovery import discover_test_command
from r2e.errors import R2EError


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


WORKFLOW = """
    name: CI
    on: [push]
    jobs:
      lint:
        runs-on: ubuntu-latest
        steps:
          - uses: actions/checkout@v4
          - run: pip install ruff && ruff check .
          - run: python -m pytest --flake8
      test:
        runs-on: ubuntu-latest
        strategy:
          matrix:
            python: ["3.10", "3.12"]
            group: [unit]
        steps:
          - uses: actions/checkout@v4
          - uses: actions/setup-python@v5
            with:
              python-version: ${{ matrix.python }}
          - name: Install
            run: |
              python -m pip install --upgrade pip
              pip install -e .[test]
          - name: Lint
            run: flake8 src && mypy src && black --check .
          - name: Test
            run: |
              coverage run -m pytest tests -x -m ${{ matrix.group }} --junitxml=$RESULTS
              coverage report
              coverage combine
          - uses: codecov/codecov-action@v4
"""


def test_github_workflow_keeps_only_the_test_invocation(tmp_path):
    repo = tree(tmp_path, {".github/workflows/tests.yml": WORKFLOW, "tests/test_a.py": "def test_a(): pass\n"})
    tc = discover_test_command(repo)
    assert tc.runner == "pytest"
    # the lint job's pytest --flake8 ranks after the test job; matrix and unset variables are dropped
    assert tc.command == "python -m pytest tests -x"
    assert tc.argv == ("python", "-m", "pytest", "tests", "-x")
    assert tc.source == ".github/workflows/tests.yml:jobs.test.steps[4]"
    assert "CI runs it" in tc.reason
    assert [(c.command, c.source) for c in tc.candidates] == [
        ("python -m pytest tests -x", ".github/workflows/tests.yml:jobs.test.steps[4]"),
        ("python -m pytest --flake8", ".github/workflows/tests.yml:jobs.lint.steps[2]"),
        ("python -m pytest", "tests/ (pytest-style tests)"),
    ]
    assert tc.plugins_needed == ()


def test_ci_tox_indirection_resolves_posargs_and_env_default(tmp_path):
    repo = tree(tmp_path, {
        ".github/workflows/ci.yaml": """
            jobs:
              build:
                steps:
                  - run: pip install tox
                  - run: tox -e py
        """,
        "tox.ini": """
            [tox]
            envlist = lint, py{310,311}

            [testenv]
            deps = pytest
            setenv =
                MY_FLAG = 1
            commands =
                pytest {posargs} tests
                coverage report

            [testenv:lint]
            commands = flake8
        """,
    })
    tc = discover_test_command(repo)
    assert tc.command == "MY_FLAG=1 python -m pytest tests"
    assert tc.argv == ("python", "-m", "pytest", "tests")
    assert tc.env == (("MY_FLAG", "1"),)
    assert tc.source == ".github/workflows/ci.yaml:jobs.build.steps[1] -> tox.ini [testenv] commands (env py)"


def test_tox_without_ci_picks_the_first_test_env_and_its_factor_lines(tmp_path):
    repo = tree(tmp_path, {
        "tox.ini": """
            [tox]
            envlist = docs, py{310,311}-{unit,slow}

            [testenv]
            commands =
                unit: pytest {posargs:-n auto} tests
                slow: pytest -m slow
                !unit: echo slow

            [testenv:docs]
            commands = sphinx-build docs build
        """,
    })
    tc = discover_test_command(repo)
    assert tc.command == "python -m pytest -n auto tests"
    assert tc.source == "tox.ini [testenv] commands (env py310-unit)"
    assert tc.plugins_needed == ("pytest-xdist",)
    assert "tox/nox" in tc.reason


def test_noxfile_session_parsed_not_executed(tmp_path):
    marker = tmp_path / "executed"
    repo = tree(tmp_path, {
        "noxfile.py": f"""
            import nox
            open({str(marker)!r}, "w").write("noxfile ran")

            COV = ["coverage", "run", "-m"]

            @nox.session(python=["3.11"])
            def lint(session):
                session.run("ruff", "check")

            @nox.session(name="tests")
            def run_tests(session):
                session.install("-e", ".")
                session.run(*COV, "pytest", "-q", *session.posargs)
                session.run("coverage", "report")
        """,
    })
    tc = discover_test_command(repo)
    assert not marker.exists()
    assert tc.command == "python -m pytest -q"
    assert tc.source == "noxfile.py session 'tests'"


def test_makefile_target_running_a_test_aggregator_module(tmp_path):
    repo = tree(tmp_path, {
        "Makefile": """
            PYTHON ?= python3

            .PHONY: test
            all: build

            build:
            \t$(PYTHON) setup.py build

            test: build
            \t@$(PYTHON) -m tests.all
        """.replace("\\t", "\t"),
        "tests/__init__.py": "",
        "tests/all.py": "import unittest\nfrom tests.udp import *\nunittest.main()\n",
        "tests/udp.py": "import unittest\nclass UdpTest(unittest.TestCase):\n    def test_x(self): pass\n",
    })
    tc = discover_test_command(repo)
    assert tc.runner == "module"
    assert tc.command == "python -m tests.all"  # the environment's interpreter, not the Makefile's python3
    assert tc.source == "Makefile:test"
    # the aggregator module is also found from the test layout, as a less trusted candidate
    assert ("python -m tests.all", "tests/all.py (test aggregator module)") in [(c.command, c.source) for c in tc.candidates]


def test_ci_make_indirection_and_default_make_target(tmp_path):
    repo = tree(tmp_path, {
        ".travis.yml": """
            install: make
            script:
              - make ci
        """,
        "Makefile": "init:\n\tpip install -r requirements.txt\nci:\n\tpython -m pytest tests --junitxml=report.xml\n",
    })
    tc = discover_test_command(repo)
    assert tc.command == "python -m pytest tests --junitxml=report.xml"
    assert tc.source == ".travis.yml:script[0] -> Makefile:ci"


def test_pyproject_addopts_kept_never_blanked(tmp_path):
    repo = tree(tmp_path, {
        "pyproject.toml": """
            [tool.pytest.ini_options]
            testpaths = ["tests"]
            markers = ["stress: high-iteration stress tests (deselect with '-m \\"not stress\\"')"]
            addopts = "-m 'not stress'"
            asyncio_mode = "auto"
        """,
        "tests/test_a.py": "def test_a(): pass\n",
    })
    tc = discover_test_command(repo)
    assert tc.command == "python -m pytest"
    assert "addopts" not in tc.command
    assert tc.source == "pyproject.toml [tool.pytest.ini_options]"
    assert tc.pytest_addopts == ("-m", "not stress")
    assert tc.testpaths == ("tests",)
    assert tc.markers == ("stress",)
    assert tc.plugins_needed == ("pytest-asyncio",)


def test_setup_cfg_cov_needs_plugin_and_ci_command_merges_config(tmp_path):
    repo = tree(tmp_path, {
        "setup.cfg": """
            [metadata]
            name = x

            [tool:pytest]
            addopts = --cov=x --cov-report=term -p xdist
            testpaths = tests
            required_plugins = pytest-timeout>=2
        """,
        ".gitlab-ci.yml": """
            stages: [test]
            test:
              script:
                - pip install -e .
                - py.test -v
        """,
    })
    tc = discover_test_command(repo)
    assert tc.command == "python -m pytest -v"
    assert tc.source == ".gitlab-ci.yml:test.script[1]"
    assert tc.pytest_config == "setup.cfg [tool:pytest]"
    assert tc.pytest_addopts == ("--cov=x", "--cov-report=term", "-p", "xdist")
    assert tc.plugins_needed == ("pytest-cov", "pytest-xdist", "pytest-timeout")


def test_unittest_cases_in_files_not_named_test(tmp_path):
    repo = tree(tmp_path, {
        "tests/__init__.py": "",
        "tests/codec_checks.py": "import unittest\n\nclass CodecTests(unittest.TestCase):\n    def test_x(self): pass\n",
        "tests/test_basic.py": "import unittest\n\nclass Basic(unittest.TestCase):\n    def test_y(self): pass\n",
    })
    tc = discover_test_command(repo)
    assert tc.runner == "unittest"
    assert tc.command == "python -m unittest discover -s tests -t . -p '*.py'"
    assert tc.source == "tests/ (unittest TestCases in files not named test*.py)"


def test_setup_py_test_suite(tmp_path):
    repo = tree(tmp_path, {
        "setup.py": "from setuptools import setup\nsetup(name='x', test_suite='x.tests.suite')\n",
        ".github/workflows/t.yml": "jobs:\n  t:\n    steps:\n      - run: python setup.py test\n",
    })
    tc = discover_test_command(repo)
    assert tc.command == "python -m unittest x.tests.suite"
    assert tc.source == ".github/workflows/t.yml:jobs.t.steps[0] -> setup.py test_suite= 'x.tests.suite'"


def test_readme_running_the_tests_section(tmp_path):
    repo = tree(tmp_path, {
        "README.rst": """
            Project
            =======

            Install
            -------
            ::

                pip install project

            Running the tests
            -----------------
            From a checkout::

                $ pip install -r dev.txt
                $ python -m pytest -k "not network" testsuite
        """,
    })
    tc = discover_test_command(repo)
    assert tc.command == "python -m pytest -k 'not network' testsuite"
    assert tc.source == "README.rst section 'Running the tests'"


def test_default_when_nothing_found(tmp_path):
    tc = discover_test_command(tmp_path)
    assert (tc.runner, tc.command, tc.source) == ("pytest", "python -m pytest", "default")
    with pytest.raises(R2EError):
        discover_test_command(tmp_path / "missing")


def test_symlinked_workflow_pointing_outside_is_refused(tmp_path):
    outside = tree(tmp_path / "host", {"secret.yml": "jobs:\n  t:\n    steps:\n      - run: pytest --secret\n"})
    repo = tree(tmp_path / "repo", {"tox.ini": "[testenv]\ncommands = pytest tests\n"})
    (repo / ".github/workflows").mkdir(parents=True)
    os.symlink(outside / "secret.yml", repo / ".github/workflows/ci.yml")
    os.symlink(outside, repo / ".github/workflows/linked_dir")
    tc = discover_test_command(repo)
    assert tc.command == "python -m pytest tests"
    assert tc.source == "tox.ini [testenv] commands (env py)"
    assert "--secret" not in " ".join(c.command for c in tc.candidates)
    refused = {s.source: s.reason for s in tc.skipped}
    assert ".github/workflows/ci.yml" in refused
    assert refused[".github/workflows/ci.yml"].startswith("resolves outside the repository")


def test_broken_yaml_is_skipped_with_reason(tmp_path):
    repo = tree(tmp_path, {
        ".github/workflows/ci.yml": "jobs:\n  t:\n    steps:\n      - run: pytest\n     bad: [\n",
        "pytest.ini": "[pytest]\naddopts = -ra\n",
    })
    tc = discover_test_command(repo)
    assert tc.source == "pytest.ini [pytest]"
    assert tc.command == "python -m pytest"
    assert tc.pytest_addopts == ("-ra",)
    [skip] = tc.skipped
    assert skip.source == ".github/workflows/ci.yml" and skip.reason.startswith("malformed YAML")


def test_cd_into_repo_folder_kept_and_outside_clone_ignored(tmp_path):
    repo = tree(tmp_path, {
        "sub/tests/test_a.py": "",
        ".github/workflows/ci.yml": """
            jobs:
              downstream:
                steps:
                  - run: git clone https://example.org/other && cd other && pytest
              t:
                steps:
                  - run: cd sub && uv run --group test pytest tests
        """,
    })
    tc = discover_test_command(repo)
    assert tc.command == "cd sub && python -m pytest tests"
    assert tc.cwd == "sub"
    assert len(tc.candidates) == 1


def test_tox_posargs_default_with_nested_substitutions(tmp_path):
    repo = tree(tmp_path, {
        "tox.ini": '[testenv]\ncommands = python -m pytest {posargs: "{toxinidir}/tests" --cov-config="{toxinidir}/tox.ini" --cov=pkg} --basetemp={envtmpdir}\n',
    })
    tc = discover_test_command(repo)
    assert tc.command == "python -m pytest tests --cov-config=tox.ini --cov=pkg"
    assert tc.plugins_needed == ("pytest-cov",)


def test_pyproject_tox_toml_commands_with_posargs_table(tmp_path):
    repo = tree(tmp_path, {
        "pyproject.toml": """
            [tool.tox]
            env_list = ["style", "py3.12"]

            [tool.tox.env_run_base]
            commands = [["pytest", "-v", "--basetemp={env_tmp_dir}", {replace = "posargs", default = ["tests"], extend = true}]]

            [tool.tox.env.style]
            commands = [["pre-commit", "run", "--all-files"]]
        """,
        ".github/workflows/tests.yaml": """
            jobs:
              tests:
                steps:
                  - run: uv run --locked --group dev tox run
                    env:
                      TOX_ENV: ${{ matrix.tox || format('py{0}', matrix.python) }}
        """,
    })
    tc = discover_test_command(repo)
    assert tc.command == "python -m pytest -v tests"
    assert tc.source == ".github/workflows/tests.yaml:jobs.tests.steps[0] -> pyproject.toml [tool.tox.env_run_base] commands (env py3.12)"
