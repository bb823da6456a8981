"""Build many repositories: resumable, parallel, disk-guarded, Ctrl-C safe. Used by `r2e build`
and by the standalone batch installer."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import click

from installers.build import CANCELLED, BuildOptions, build_repo, now_iso
from r2e.fsio import atomic_write_json, read_json
from r2e.pool import run_pool
from r2e.progress import progress

WORKER_WARNING = 20  # past this, Docker's client connection pool gave random errors in the original R2E
DEFAULT_MIN_FREE_GB = 5.0


@dataclass(frozen=True)
class BuildItem:
    repo_id: str
    path: Path
    commit: str | None = None


def result_path(build_dir: Path, repo_id: str) -> Path:
    return build_dir / repo_id / "result.json"


def free_gb(path: Path) -> float:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free / 1e9


def build_many(items: list[BuildItem], build_dir: Path, opts: BuildOptions, *, workers: int = 1,
               force: bool = False, min_free_gb: float = DEFAULT_MIN_FREE_GB,
               summary_path: Path | None = None, echo=click.echo) -> dict:
    """Build every item not already built (unless `force`); write and return the summary."""
    build_dir.mkdir(parents=True, exist_ok=True)
    if workers > WORKER_WARNING:
        echo(f"warning: {workers} workers: above {WORKER_WARNING} the Docker engine's connection pool is known to "
             "fail at random; the client pool is sized to match, but consider fewer", err=True)
    if opts.backend == "docker":
        _size_docker_pool(opts, workers)
        _sweep(opts)
    todo = [it for it in items if force or not result_path(build_dir, it.repo_id).exists()]
    skipped = len(items) - len(todo)
    if skipped:
        echo(f"{skipped} repo(s) already built (use --force to rebuild)")
    t0 = time.monotonic()
    low_disk: list[str] = []

    def one(item: BuildItem) -> dict:
        if free_gb(build_dir) < min_free_gb:
            low_disk.append(item.repo_id)
            return {"repo": item.repo_id, "status": "not_started", "reason": "disk below floor"}
        item_opts = BuildOptions(**{**opts.__dict__, "commit": item.commit})
        return build_repo(item.repo_id, item.path, build_dir / item.repo_id, item_opts)

    interrupted = False
    CANCELLED.clear()
    with progress(len(todo), "build") as bar:
        def done(item, result, error):
            status = (result or {}).get("status", "error") if error is None else "error"
            ok = status in ("success", "partial", "no_tests")
            bar.advance("ok" if ok else "failed",
                        f"{item.repo_id}: {status}" + (f" ({error})" if error else _detail(result)))

        try:
            run_pool(one, todo, workers, on_done=done)
        except KeyboardInterrupt:
            interrupted = True
            CANCELLED.set()
            from installers.local_env import kill_all

            kill_all()
            if opts.backend == "docker":
                from installers.docker_env import close_all

                close_all()
    if low_disk:
        echo(f"{len(low_disk)} repo(s) not started: free disk below {min_free_gb} GB", err=True)
    summary = summarize(items, build_dir, time.monotonic() - t0)
    summary["interrupted"] = interrupted
    if summary_path:
        atomic_write_json(summary_path, merge_summary(read_json(summary_path), summary))
    if interrupted:
        raise KeyboardInterrupt
    return summary


def _sweep(opts: BuildOptions) -> None:
    """Remove containers forgotten by earlier runs (expired or exited) before starting new ones."""
    if opts.docker_client is not None:
        from installers.docker_env import sweep

        try:
            sweep(opts.docker_client)
        except Exception:
            pass


def _size_docker_pool(opts: BuildOptions, workers: int) -> None:
    """One docker client for all workers, its HTTP pool as large as the worker count."""
    if opts.docker_client is None:
        import docker

        try:
            opts.docker_client = docker.DockerClient.from_env(timeout=300, max_pool_size=max(10, workers + 4))
        except TypeError:  # an SDK without max_pool_size
            opts.docker_client = docker.from_env(timeout=300)
        except Exception:
            opts.docker_client = None  # reported per repo by the backend


def _detail(result: dict | None) -> str:
    if not result:
        return ""
    oracle = result.get("oracle") or {}
    parts = []
    if oracle.get("pass_ratio") is not None:
        parts.append(f"pass {oracle['passed']}/{oracle['passed'] + oracle['failed'] + oracle['errors']}")
    failure = result.get("failure") or {}
    if failure and result.get("status") not in ("success",):
        parts.append(f"{failure.get('class')}: {str(failure.get('message'))[:80]}")
    parts.append(f"{result.get('duration', 0):.0f}s")
    return " (" + ", ".join(parts) + ")"


def summarize(items: list[BuildItem], build_dir: Path, elapsed: float) -> dict:
    repos = {}
    counts: dict[str, int] = {}
    for it in items:
        res = read_json(result_path(build_dir, it.repo_id))
        status = res.get("status", "error") if res else "not_built"
        counts[status] = counts.get(status, 0) + 1
        repos[it.repo_id] = {"status": status, "python": (res or {}).get("python"),
                             "image": (res or {}).get("image"), "duration": (res or {}).get("duration"),
                             "pass_ratio": ((res or {}).get("oracle") or {}).get("pass_ratio")}
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
