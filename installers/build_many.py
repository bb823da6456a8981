"""Build many repositories of an experiment: resumable, parallel, disk-guarded, Ctrl-C safe.

Used by `r2e build`, the standalone batch installer and the install benchmark.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import click

from installers.build import build_repo
from installers.docker_env import close_all, sweep
from installers.installer import CANCELLED
from installers.local_env import kill_all
from installers.options import BuildOptions
from r2e.experiment import Experiment, StageFileError
from r2e.executor import Executor, LocalExecutor
from r2e.progress import progress
from r2e.stage_records import USABLE_STATUSES, BuildResult
from r2e.workspace import now_iso

WORKER_WARNING = 20  # past this, Docker's client connection pool gave random errors in the original R2E
DEFAULT_MIN_FREE_GB = 5.0


@dataclass(frozen=True)
class BuildItem:
    repo_id: str
    path: Path
    commit: str | None = None


def free_gb(path: Path) -> float:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free / 1e9


def build_many(items: list[BuildItem], exp: Experiment, opts: BuildOptions, *, workers: int = 1,
               force: bool = False, min_free_gb: float = DEFAULT_MIN_FREE_GB, echo=click.echo,
               executor: Executor | None = None, registry: str | None = None) -> dict:
    """Build every item not already built in `exp` (unless `force`); write and return the summary.

    On a cluster executor (`ray`) each build runs on a node and its files come back to be written here."""
    exp.build_dir.mkdir(parents=True, exist_ok=True)
    executor = executor or LocalExecutor(workers)
    remote = executor.name != "local"
    if remote:
        return _build_remote(items, exp, opts, executor, force=force, min_free_gb=min_free_gb, echo=echo,
                             registry=registry)
    if workers > WORKER_WARNING:
        echo(f"warning: {workers} workers: above {WORKER_WARNING} the Docker engine's connection pool is known to "
             "fail at random; the client pool is sized to match, but consider fewer", err=True)
    if opts.backend == "docker":
        _size_docker_pool(opts, workers)
        _sweep(opts)
    todo = [it for it in items if force or not exp.build_result_path(it.repo_id).exists()]
    skipped = len(items) - len(todo)
    if skipped:
        echo(f"{skipped} repo(s) already built (use --force to rebuild)")
    t0 = time.monotonic()
    low_disk: list[str] = []

    def one(item: BuildItem) -> BuildResult:
        if free_gb(exp.build_dir) < min_free_gb:
            low_disk.append(item.repo_id)
            return BuildResult(item.repo_id, "not_started", backend=opts.backend, extra={"reason": "disk below floor"})
        return build_repo(item.repo_id, item.path, exp, opts.for_commit(item.commit))

    interrupted = False
    CANCELLED.clear()
    with progress(len(todo), "build") as bar:
        def done(item: BuildItem, result: BuildResult | None, error: BaseException | None) -> None:
            status = result.status if error is None and result is not None else "error"
            bar.advance("ok" if status in USABLE_STATUSES else "failed",
                        f"{item.repo_id}: {status}" + (f" ({error})" if error else _detail(result)))

        try:
            executor.map(one, todo, on_done=done)
        except KeyboardInterrupt:
            interrupted = True
            CANCELLED.set()
            kill_all()
            if opts.backend == "docker":
                close_all()
    if low_disk:
        echo(f"{len(low_disk)} repo(s) not started: free disk below {min_free_gb} GB", err=True)
    summary = summarize(items, exp, time.monotonic() - t0)
    summary["interrupted"] = interrupted
    exp.write_build_summary(merge_summary(_previous_summary(exp, echo), summary))
    if interrupted:
        raise KeyboardInterrupt
    return summary


def _build_remote(items: list[BuildItem], exp: Experiment, opts: BuildOptions, executor: Executor, *, force: bool,
                  min_free_gb: float, echo, registry: str | None) -> dict:
    """The cluster path: resume is decided here, each build ships as a unit, results are written here."""
    from installers.remote_build import RemoteBuilds, build_resources, cleanup_node, run_unit

    todo = [it for it in items if force or not exp.build_result_path(it.repo_id).exists()]
    skipped = len(items) - len(todo)
    if skipped:
        echo(f"{skipped} repo(s) already built (use --force to rebuild)")
    remote = RemoteBuilds(exp, opts, registry=registry, min_free_gb=min_free_gb)
    t0 = time.monotonic()
    nodes: dict[str, int] = {}
    retried: list[str] = []
    interrupted = False
    if todo:
        remote.locate(todo, executor)
    with progress(len(todo), f"build ({executor.name})") as bar:
        def done(item: BuildItem, payload: dict | None, error: BaseException | None) -> None:
            result = None
            if error is None and payload is not None:
                try:
                    result = remote.write_back(payload)
                except Exception as exc:  # one unwritable result never stops the batch
                    error = exc
            if result is not None:
                node = result.extra.get("node")
                if node:
                    nodes[node] = nodes.get(node, 0) + 1
                if (result.extra.get("attempts") or 1) > 1:
                    retried.append(item.repo_id)
            status = result.status if error is None and result is not None else "error"
            bar.advance("ok" if status in USABLE_STATUSES else "failed",
                        f"{item.repo_id}: {status}" + (f" ({type(error).__name__}: {error})" if error else
                                                       _detail(result) + _where(result)))

        try:
            executor.map(run_unit, todo, resources=build_resources(), on_done=done, prepare=remote.unit,
                         hint=remote.hint)
        except KeyboardInterrupt:
            interrupted = True
            report = executor.on_each_node(cleanup_node, remote.run_id, [it.repo_id for it in todo])
            echo(_cleanup_line(report), err=True)
    summary = summarize(items, exp, time.monotonic() - t0)
    summary.update(interrupted=interrupted, executor=executor.name, nodes=nodes, retried=retried)
    exp.write_build_summary(merge_summary(_previous_summary(exp, echo), summary))
    if interrupted:
        raise KeyboardInterrupt
    return summary


def _cleanup_line(report: dict) -> str:
    done = {k: v for k, v in report.items() if isinstance(v, dict)}
    total = {key: sum(v.get(key, 0) for v in done.values()) for key in ("killed", "containers", "scratch")}
    line = (f"interrupted: cleaned up {len(done)} node(s): killed {total['killed']} command(s), removed "
            f"{total['containers']} container(s) and {total['scratch']} scratch folder(s)")
    failed = {k: v for k, v in report.items() if k not in done}
    return line + "".join(f"; {k}: {v}" for k, v in failed.items())


def _where(result: BuildResult | None) -> str:
    if result is None or not result.extra.get("node"):
        return ""
    attempts = result.extra.get("attempts") or 1
    return f" on {result.extra['node']}" + (f" (attempt {attempts})" if attempts > 1 else "")


def _previous_summary(exp: Experiment, echo) -> dict | None:
    """The experiment's summary so far; an unreadable one is replaced (it is remade from the results)."""
    try:
        return exp.build_summary()
    except StageFileError as exc:
        echo(f"warning: {exc}; writing a new one", err=True)
        return None


def _sweep(opts: BuildOptions) -> None:
    """Remove containers forgotten by earlier runs (expired or exited) before starting new ones."""
    if opts.docker_client is not None:
        try:
            sweep(opts.docker_client)
        except Exception:
            pass


def _size_docker_pool(opts: BuildOptions, workers: int) -> None:
    """One docker client for all workers, its HTTP pool as large as the worker count."""
    if opts.docker_client is None:
        import docker  # the SDK is needed only when docker is used

        try:
            opts.docker_client = docker.DockerClient.from_env(timeout=300, max_pool_size=max(10, workers + 4))
        except TypeError:  # an SDK without max_pool_size
            opts.docker_client = docker.from_env(timeout=300)
        except Exception:
            opts.docker_client = None  # reported per repo by the backend


def _detail(result: BuildResult | None) -> str:
    if result is None:
        return ""
    parts = []
    oracle = result.oracle
    if oracle is not None and oracle.pass_ratio is not None:
        parts.append(f"pass {oracle.passed}/{oracle.total}")
    if result.failure is not None and result.status != "success":
        parts.append(f"{result.failure.cls}: {result.failure.message[:80]}")
    parts.append(f"{result.duration or 0:.0f}s")
    return " (" + ", ".join(parts) + ")"


def summarize(items: list[BuildItem], exp: Experiment, elapsed: float) -> dict:
    """This run's summary: per repo its status, Python, image, duration and pass ratio; counts per status."""
    repos = {}
    counts: dict[str, int] = {}
    for it in items:
        try:
            res = exp.build_result(it.repo_id)
        except StageFileError:  # a result that cannot be read is no verdict: rebuild it with --force
            res = BuildResult(it.repo_id, "error")
        status = res.status if res else "not_built"
        counts[status] = counts.get(status, 0) + 1
        repos[it.repo_id] = {"status": status, "python": res.python if res else None,
                             "image": res.image if res else None, "duration": res.duration if res else None,
                             "pass_ratio": res.pass_ratio if res else None}
    built = sum(v for k, v in counts.items() if k != "not_built")
    return {"finished": now_iso(), "elapsed": round(elapsed, 1), "total": len(items), "counts": counts,
            "success_rate": round(counts.get("success", 0) / built, 4) if built else None, "repos": repos}


def merge_summary(old: dict | None, new: dict) -> dict:
    """build.json covers every repo built in the experiment, not only this run's (--only, segments)."""
    repos = {**((old or {}).get("repos") or {}), **new["repos"]}
    counts: dict[str, int] = {}
    for info in repos.values():
        counts[info["status"]] = counts.get(info["status"], 0) + 1
    built = sum(v for k, v in counts.items() if k != "not_built")
    return {**new, "total": len(repos), "counts": counts, "repos": repos,
            "success_rate": round(counts.get("success", 0) / built, 4) if built else None,
            "this_run": {"total": new["total"], "counts": new["counts"], "elapsed": new["elapsed"]}}
