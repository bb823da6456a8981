"""`r2e setup`: bring each source into the workspace, in parallel, never losing finished work."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from r2e.intake import git as gitops
from r2e.intake.sources import RepoSource
from r2e.names import with_suffix
from r2e.pool import run_pool
from r2e.workspace import TMP_PREFIX, RepoRecord, Workspace, now_iso


@dataclass(frozen=True)
class SetupOutcome:
    entry: str  # the entry as the user wrote it
    status: str  # "ok" | "skipped" | "failed"
    repo_id: str | None = None
    reason: str = ""
    record: RepoRecord | None = None


@dataclass(frozen=True)
class SetupOptions:
    depth: int | None = None
    force: bool = False
    clone_timeout: float = gitops.DEFAULT_CLONE_TIMEOUT


def _copy_ignore(_dir: str, names: list[str]) -> set[str]:
    # Environments and build leftovers are not part of the repository.
    return {n for n in names if n in {".venv", "venv", "__pycache__", ".tox", ".mypy_cache", ".pytest_cache"}}


def _materialise(src: RepoSource, dest: Path, opts: SetupOptions) -> None:
    if src.kind == "url":
        gitops.clone(src.location, dest, ref=src.ref, depth=opts.depth, timeout=opts.clone_timeout)
        return
    shutil.copytree(src.location, dest, symlinks=True, ignore=_copy_ignore)
    if not gitops.is_git_root(dest):
        gitops.init_and_commit(dest)


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Replace `final` by `tmp` so that at every instant one complete checkout exists."""
    if final.exists():
        trash = final.with_name(f"{TMP_PREFIX}old-{final.name}-{uuid.uuid4().hex[:8]}")
        final.rename(trash)
        tmp.rename(final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        tmp.rename(final)


class SetupRun:
    """Plans ids for a batch of sources, then sets each up; one failure never stops the rest."""

    def __init__(self, ws: Workspace, exp: str, opts: SetupOptions):
        self.ws, self.exp, self.opts = ws, exp, opts
        self.registry = ws.load_registry()

    def assign_ids(self, sources: list[RepoSource]) -> tuple[list[tuple[RepoSource, str]], list[SetupOutcome]]:
        """Reuse the id of a source seen before; give new ones a free id; flag duplicates."""
        by_key = {}
        for rid, rec in self.registry.items():
            key = RepoSource(rec["kind"], rec["source"]).key
            by_key.setdefault(key, rid)
        taken = self.ws.taken_repo_ids()
        planned: list[tuple[RepoSource, str]] = []
        dupes: list[SetupOutcome] = []
        seen: dict[str, str] = {}
        for src in sources:
            if src.key in seen:
                dupes.append(SetupOutcome(src.raw, "failed", seen[src.key], f"duplicate entry: '{src.raw}' is already in this batch"))
                continue
            rid = by_key.get(src.key) or with_suffix(src.base_id, taken)
            taken.add(rid)
            seen[src.key] = rid
            planned.append((src, rid))
        return planned, dupes

    def _up_to_date(self, src: RepoSource, rid: str) -> str | None:
        """The existing commit if this source is already set up as asked, else None."""
        rec = self.registry.get(rid)
        path = self.ws.repo_path(rid)
        if self.opts.force or rec is None or not path.is_dir():
            return None
        try:
            current = gitops.head_commit(path)
        except gitops.GitError:
            return None
        if src.kind == "url":
            if src.ref is None and rec.get("ref") is None:
                return current
            if src.ref and (current.startswith(src.ref) or rec.get("ref") == src.ref):
                return current
            return None
        return None  # local folders are compared after copying (their content may have changed)

    def setup_one(self, item: tuple[RepoSource, str]) -> SetupOutcome:
        src, rid = item
        final = self.ws.repo_path(rid)
        existing = self._up_to_date(src, rid)
        if existing:
            record = RepoRecord(rid, src.kind, src.location, existing, str(final), now_iso(), src.ref)
            return SetupOutcome(src.raw, "skipped", rid, f"already set up at {existing[:12]}", record)
        self.ws.repos_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.ws.repos_dir / f"{TMP_PREFIX}{rid}-{uuid.uuid4().hex[:8]}"
        try:
            _materialise(src, tmp, self.opts)
            commit = gitops.head_commit(tmp)
            if src.kind == "path" and not self.opts.force and final.is_dir() and rid in self.registry:
                try:
                    if gitops.head_commit(final) == commit:
                        record = RepoRecord(rid, src.kind, src.location, commit, str(final), now_iso(), None)
                        return SetupOutcome(src.raw, "skipped", rid, f"already set up at {commit[:12]}", record)
                except gitops.GitError:
                    pass
            _swap_into_place(tmp, final)
        except gitops.GitError as exc:
            return SetupOutcome(src.raw, "failed", rid, f"git: {exc}")
        except OSError as exc:
            return SetupOutcome(src.raw, "failed", rid, f"{type(exc).__name__}: {exc.strerror or exc}")
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        record = RepoRecord(rid, src.kind, src.location, commit, str(final), now_iso(), src.ref)
        return SetupOutcome(src.raw, "ok", rid, f"at {commit[:12]}", record)

    def run(
        self,
        sources: list[RepoSource],
        jobs: int,
        on_outcome: Callable[[SetupOutcome], None] | None = None,
    ) -> list[SetupOutcome]:
        self.ws.sweep_temp_dirs()
        self.ws.ensure_experiment(self.exp)
        planned, outcomes = self.assign_ids(sources)
        for o in outcomes:
            if on_outcome:
                on_outcome(o)

        def done(item, outcome: SetupOutcome | None, error: BaseException | None) -> None:
            if error is not None:  # a bug, not a user error: still reported per entry
                outcome = SetupOutcome(item[0].raw, "failed", item[1], f"{type(error).__name__}: {error}")
            assert outcome is not None
            if outcome.record is not None:
                # Saved as each repo finishes: an interrupted batch keeps what it completed.
                self.ws.register_repo(outcome.record)
                self.ws.add_to_manifest(self.exp, outcome.record)
                self.registry[outcome.record.id] = self.ws.load_registry().get(outcome.record.id, {})
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)

        try:
            run_pool(self.setup_one, planned, jobs, on_done=done)
        except KeyboardInterrupt:
            gitops.kill_running()  # running clones fail fast and remove their temp folders
            raise
        return outcomes
