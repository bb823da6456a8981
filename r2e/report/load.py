"""Reading an experiment's results, tolerant of missing fields and of a batch still running.

Every field the report uses is read here, so a renamed field is a one-line fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

LOG_TAIL = 20_000  # characters of install.log read to classify an unexplained failure


@dataclass(frozen=True)
class BuildRecord:
    repo: str
    status: str
    python: str | None
    build_system: str
    duration: float | None
    pass_ratio: float | None
    tests_run: bool
    failure_class: str | None
    failure_message: str
    failure_module: str | None
    repair_steps: list[dict]
    log_tail: str
    language: str


@dataclass
class ExperimentResults:
    experiment: str
    builds: list[BuildRecord] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # result files that could not be parsed
    in_progress: list[str] = field(default_factory=list)  # repos with a build folder but no result yet
    genexec: dict | None = None


def build_system_of(result: dict) -> str:
    """The build system: C builds name theirs; Python ones are named by the packaging file used."""
    if result.get("build_system"):
        return str(result["build_system"])
    plan = result.get("plan") or {}
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


def build_record(repo: str, result: dict, log_tail: str) -> BuildRecord:
    oracle = result.get("oracle") or {}
    failure = result.get("failure") or {}
    return BuildRecord(
        repo=result.get("repo") or repo,
        status=str(result.get("status") or "unknown"),
        python=result.get("python") or (result.get("plan") or {}).get("python"),
        build_system=build_system_of(result),
        duration=result.get("duration"),
        pass_ratio=oracle.get("pass_ratio"),
        tests_run=bool(oracle.get("tests_run")),
        failure_class=failure.get("class"),
        failure_message=str(failure.get("message") or ""),
        failure_module=failure.get("module"),
        repair_steps=list(result.get("repair_steps") or []),
        log_tail=log_tail + "\n" + str(oracle.get("output_tail") or ""),
        language=str(result.get("language") or "python"),
    )


def load_experiment(exp_dir: Path) -> ExperimentResults:
    out = ExperimentResults(experiment=exp_dir.name)
    build_dir = exp_dir / "build"
    if build_dir.is_dir():
        for repo_dir in sorted(p for p in build_dir.iterdir() if p.is_dir()):
            result_path = repo_dir / "result.json"
            if not result_path.exists():
                out.in_progress.append(repo_dir.name)
                continue
            try:
                result = json.loads(result_path.read_text(encoding="utf-8"))
                if not isinstance(result, dict):
                    raise ValueError("not an object")
            except (OSError, ValueError):
                out.unreadable.append(repo_dir.name)
                continue
            out.builds.append(build_record(repo_dir.name, result, _tail(repo_dir / "install.log")))
    genexec_path = exp_dir / "genexec.json"
    if genexec_path.exists():
        try:
            out.genexec = json.loads(genexec_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            out.unreadable.append("genexec.json")
    return out
