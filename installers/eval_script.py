"""The eval script of record: /run_tests.sh, the one way every later stage runs a repository's tests.

It runs the maintainers' test command in the repo's venv with R2E's reporters attached, takes optional
test ids to run a subset, writes the per-test map to a known path, ends with one machine-readable
line (RESULT_MARKER + JSON) and exits with the test command's own exit code. The environment
variable R2E_SUITE_TIMEOUT, when set, replaces the suite budget for one run. The same text serves
the local backend with its workdir, venv and reporter folder substituted.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

from installers.test_results import RESULT_MARKER
from r2e.errors import R2EError

EVAL_SCRIPT_PATH = "/run_tests.sh"
SANDBOX_DIR = "/opt/r2e/sandbox"  # where installers/sandbox is copied in an image
REPORT_PATH = "/tmp/r2e-test-report.json"
RUNNERS = ("pytest", "unittest", "other")
KILL_GRACE = 10  # seconds between the suite budget's SIGTERM (reports are flushed) and SIGKILL
_PYTHON = re.compile(r"^(?:.*/)?python(?:\d+(?:\.\d+)*)?$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SHELL_OPERATORS = ("&&", "||", ";", "|", "&", "(", ")", "<", ">", ">>")
_INTERPRETER_OPTIONS_WITH_VALUE = ("-W", "-X", "-Q")


def sandbox_source() -> Path:
    """The reporters' folder on the host: copied into images, used in place by the local backend."""
    return Path(__file__).resolve().parent / "sandbox"


def render_eval_script(test_command: str, *, runner: str, workdir: str = "/testbed", venv: str,
                       report_path: str = REPORT_PATH, per_test_timeout: float | None,
                       suite_timeout: float, sandbox_dir: str = SANDBOX_DIR, junit_path: str | None = None) -> str:
    """The bash text of /run_tests.sh for `test_command` (as the maintainers write it).

    runner: "pytest" (a command that runs pytest, directly or through make/scripts: the plugin rides
    on PYTEST_ADDOPTS), "unittest" (`python -m MODULE`, `python -m unittest ...`, `python SCRIPT.py`:
    run through R2E's recording runner), "other" (anything else; per-test results only from
    `junit_path` if the command writes one).
    """
    if runner not in RUNNERS:
        raise R2EError(f"unknown test runner {runner!r} (expected one of {', '.join(RUNNERS)})")
    if not test_command.strip():
        raise R2EError("empty test command")
    if suite_timeout <= 0:
        raise R2EError(f"the whole-suite budget must be positive, got {suite_timeout}")
    command = unittest_command(test_command, sandbox_dir) if runner == "unittest" else test_command.strip()
    q = shlex.quote
    lines = [
        "#!/usr/bin/env bash",
        "# R2E eval script of record: the repository's own test command, judged test by test.",
        "# Usage: run_tests.sh [TEST_ID ...]   (no ids: the whole suite; ids as in the per-test map)",
        f"cd {q(workdir)} || exit 2",
        f"export VIRTUAL_ENV={q(venv)}",
        'export PATH="$VIRTUAL_ENV/bin:$PATH"',
        "unset PYTHONHOME",
        f"export R2E_TEST_REPORT={q(report_path)}",
        f'export PYTHONPATH={q(sandbox_dir)}"${{PYTHONPATH:+:$PYTHONPATH}}"',
        'export PYTEST_ADDOPTS="-p r2e_pytest_report${PYTEST_ADDOPTS:+ $PYTEST_ADDOPTS}"',
    ]
    if per_test_timeout:
        lines.append(f"export R2E_TEST_TIMEOUT={_seconds(per_test_timeout)}")
    else:
        lines.append("unset R2E_TEST_TIMEOUT")
    lines += [
        'rm -f "$R2E_TEST_REPORT"' + (f" {q(junit_path)}" if junit_path else ""),
        "unset R2E_TEST_IDS",
        'if [ "$#" -gt 0 ]; then',
        '  R2E_TEST_IDS="$(mktemp)"; export R2E_TEST_IDS',
        "  trap 'rm -f \"$R2E_TEST_IDS\"' EXIT",
        "  printf '%s\\n' \"$@\" > \"$R2E_TEST_IDS\"",
        "fi",
        "r2e_start=$(date +%s.%N)",
        f"# the whole-suite budget: SIGTERM lets the reporters write what they have, SIGKILL {KILL_GRACE} s later;",
        "# R2E_SUITE_TIMEOUT lowers it for one run. --foreground keeps the tests in the caller's process group,",
        "# so a caller that kills its command's group (timeout, Ctrl-C) ends them too.",
        f'timeout --foreground -k {KILL_GRACE} "${{R2E_SUITE_TIMEOUT:-{_seconds(suite_timeout)}}}" bash -c {q(command)}',
        "r2e_exit=$?",
        "r2e_end=$(date +%s.%N)",
        "r2e_timed_out=false",
        'if [ "$r2e_exit" -eq 124 ] || [ "$r2e_exit" -eq 137 ]; then r2e_timed_out=true; fi',
    ]
    if junit_path:
        lines += [
            f'if [ ! -s "$R2E_TEST_REPORT" ] && [ -s {q(junit_path)} ]; then',
            f'  python {q(sandbox_dir + "/r2e_junit_report.py")} {q(junit_path)} "$R2E_TEST_REPORT" --root . || true',
            "fi",
        ]
    static = json.dumps({"runner": runner, "report": report_path})[1:-1]
    lines += [
        "r2e_duration=$(awk -v a=\"$r2e_start\" -v b=\"$r2e_end\" 'BEGIN { printf \"%.3f\", b - a }')",
        "r2e_report=false; [ -s \"$R2E_TEST_REPORT\" ] && r2e_report=true",
        f"printf '\\n{RESULT_MARKER}{{\"exit_code\": %d, \"timed_out\": %s, \"duration\": %s, "
        f"\"report_written\": %s, {_printf_escape(static)}}}\\n' "
        '"$r2e_exit" "$r2e_timed_out" "$r2e_duration" "$r2e_report"',
        'exit "$r2e_exit"',
    ]
    return "\n".join(lines) + "\n"


def unittest_command(test_command: str, sandbox_dir: str) -> str:
    """`python -m tests.all` -> the same interpreter running R2E's recording runner on `-m tests.all`."""
    try:
        words = shlex.split(test_command)
    except ValueError as exc:
        raise R2EError(f"cannot read the unittest command {test_command!r}: {exc}") from None
    if any(w in _SHELL_OPERATORS for w in words):
        raise R2EError(f"the unittest runner takes one python command, not a shell pipeline: {test_command!r}")
    env = []
    while words and _ASSIGNMENT.match(words[0]):
        env.append(words.pop(0))
    if not words or not _PYTHON.match(words[0]):
        raise R2EError(f"a unittest command starts with python: {test_command!r}")
    interpreter, rest = [words.pop(0)], words
    while rest and rest[0].startswith("-") and rest[0] != "-m":
        option = rest.pop(0)
        interpreter.append(option)
        if option in _INTERPRETER_OPTIONS_WITH_VALUE and rest:
            interpreter.append(rest.pop(0))
    if not rest or (rest[0] == "-m" and len(rest) < 2):
        raise R2EError(f"a unittest command runs `-m MODULE`, `-m unittest ...` or a script: {test_command!r}")
    runner = f"{sandbox_dir}/r2e_unittest_report.py"
    parts = [*env, *interpreter, runner, "$R2E_TEST_REPORT", "--", *rest]
    return " ".join('"$R2E_TEST_REPORT"' if p == "$R2E_TEST_REPORT" else shlex.quote(p) for p in parts)


def git_exclude_lines(venv_relative: str | None = None) -> tuple[str, ...]:
    """Patterns for /testbed/.git/info/exclude: R2E's and the toolchain's noise, so a diff shows real edits.

    Anchored (`/build/`) where a name could also be a real source folder deeper in the tree.
    """
    lines = [".venv/", "*.egg-info/", ".eggs/", "__pycache__/", "*.py[cod]", ".pytest_cache/",
             ".mypy_cache/", ".hypothesis/", "/build/", "/dist/", "/pip-wheel-metadata/", "*.so",
             ".coverage", ".coverage.*", "coverage.xml", "htmlcov/", ".tox/", ".nox/",
             ".r2e*", "r2e-test-report*.json", ".r2e-junit.xml"]
    if venv_relative and venv_relative.strip("/") not in ("", ".venv"):
        lines.insert(0, "/" + venv_relative.strip("/") + "/")
    return tuple(lines)


# Options by which a test command writes report files into the repository (pytest, pytest-cov, pytest-html).
_OUTPUT_OPTIONS = ("--junitxml", "--junit-xml", "--html", "--report-log", "--json-report-file", "--result-log")
_COV_REPORT = re.compile(r"^(?:xml|html|json|lcov|annotate):(.+)$")


def command_outputs(test_command: str) -> tuple[str, ...]:
    """Files the test command itself writes in the repo (`--junitxml=report.xml`, `--cov-report=xml:cov.xml`):
    anchored exclude lines, so an eval leaves `git status` clean. Paths outside the repo are left alone."""
    try:
        words = shlex.split(test_command)
    except ValueError:
        return ()
    found = []
    for i, word in enumerate(words):
        name, eq, value = word.partition("=")
        if not eq and i + 1 < len(words):
            value = words[i + 1]
        if name in _OUTPUT_OPTIONS and value:
            found.append(value)
        elif name == "--cov-report" and value:
            m = _COV_REPORT.match(value)
            if m:
                found.append(m.group(1))
    out = []
    for path in found:
        norm = os.path.normpath(path)  # ./cov.xml -> cov.xml
        if not os.path.isabs(norm) and not norm.startswith("..") and "$" not in norm and norm != ".":
            out.append("/" + norm)
    return tuple(dict.fromkeys(out))


def git_exclude_command(workdir: str = "/testbed", venv: str | None = None, extra: tuple[str, ...] = ()) -> str:
    """Bash that appends the missing exclude lines to the repo's .git/info/exclude (idempotent).

    `extra`: more lines, such as the report files the test command writes (`command_outputs`)."""
    venv_relative = None
    if venv and os.path.normpath(venv).startswith(os.path.normpath(workdir) + os.sep):
        venv_relative = os.path.relpath(venv, workdir)
    exclude = f"{workdir}/.git/info/exclude"
    lines = git_exclude_lines(venv_relative)
    patterns = " ".join(shlex.quote(p) for p in (*lines, *(e for e in extra if e not in lines)))
    return (f"if [ -d {shlex.quote(workdir + '/.git')} ]; then mkdir -p {shlex.quote(workdir + '/.git/info')}"
            f" && touch {shlex.quote(exclude)} && for p in {patterns}; do"
            f" grep -qxF -- \"$p\" {shlex.quote(exclude)} || printf '%s\\n' \"$p\" >> {shlex.quote(exclude)};"
            " done; fi")


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{float(value):g}"


def _printf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "%%").replace("'", "'\\''")
