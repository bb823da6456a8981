"""An experiment's results as the report needs them, read through `Experiment`.

Builds are `BuildResult`s; the few facts the report derives from one (its Python, its build system,
the text to search for a traceback) are computed here, so the report has no schema of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from r2e.experiment import Experiment
from r2e.stage_records import BuildResult, GenexecRun

LOG_TAIL = 20_000  # characters of install.log read to classify an unexplained failure


@dataclass
class ExperimentResults:
    experiment: str
    builds: list[BuildResult] = field(default_factory=list)
    log_tails: dict[str, str] = field(default_factory=dict)  # repo -> install.log tail + test output tail
    unreadable: list[str] = field(default_factory=list)  # repos whose result file could not be read
    in_progress: list[str] = field(default_factory=list)  # repos with a build folder but no result yet
    genexec: GenexecRun | None = None
    tasks: dict | None = None  # tasks_summary.json: candidates, valid tasks, rejections by reason


def python_of(result: BuildResult) -> str | None:
    return result.python or result.plan.get("python")


def build_system_of(result: BuildResult) -> str:
    """The build system: C builds name theirs; Python ones are named by the packaging file used."""
    if result.build_system:
        return str(result.build_system)
    plan = result.plan
    if plan.get("build_system"):
        return str(plan["build_system"])
    sources = [Path(str(s)).name for s in plan.get("sources") or []]
    for marker, name in (("pyproject.toml", "pyproject"), ("setup.py", "setup.py"), ("setup.cfg", "setup.cfg"),
                         ("Pipfile", "pipenv"), ("environment.yml", "conda")):
        if marker in sources:
            return name
    if any(s.startswith("requirements") for s in sources):
        return "requirements"
    return "none (imports only)" if plan else "unknown"


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - LOG_TAIL))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def log_tail(exp: Experiment, result: BuildResult) -> str:
    """Where a failure's traceback may be: the end of install.log, then the test output."""
    output = result.oracle.output_tail if result.oracle else ""
    return _tail(exp.install_log_path(result.repo)) + "\n" + str(output or "")


def load_experiment(exp: Experiment) -> ExperimentResults:
    """Every build result (a batch may still be running) and genexec.json; a corrupt genexec.json is an error."""
    builds, unreadable, running = exp.build_results()
    return ExperimentResults(
        experiment=exp.name,
        builds=builds,
        log_tails={b.repo: log_tail(exp, b) for b in builds},
        unreadable=unreadable,
        in_progress=running,
        genexec=exp.genexec_doc(),
        tasks=exp.tasks_summary(),
    )
