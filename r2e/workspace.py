"""The R2E workspace: repositories live once under repos/, experiments name the ones they use.

Layout::

    $R2E_HOME/repos/<repo_id>/           the checkout
    $R2E_HOME/repos.json                 registry: id -> source, commit, date
    $R2E_HOME/experiments/<exp>/manifest.json
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterator

from r2e.errors import R2EError, R2EUsageError
from r2e.fsio import atomic_write_json, file_lock, read_json
from r2e.names import is_valid_experiment

MANIFEST_VERSION = 1
TMP_PREFIX = ".tmp-"


def default_home() -> Path:
    return Path(os.environ.get("R2E_HOME") or Path.home() / ".r2e").expanduser()


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class RepoRecord:
    """One repository as an experiment knows it."""

    id: str
    kind: str  # "url" | "path"
    source: str  # the URL, or the absolute local path it was copied from
    commit: str
    path: str  # absolute path of the checkout
    added: str
    ref: str | None = None  # the ref or commit the user pinned, if any

    @classmethod
    def from_dict(cls, data: dict) -> "RepoRecord":
        """The record; TypeError when a field has the wrong type (callers turn it into a one-line error)."""
        known = {f for f in cls.__dataclass_fields__}
        record = cls(**{k: v for k, v in data.items() if k in known})
        wrong = next((k for k in cls.__dataclass_fields__ if not isinstance(getattr(record, k), (str, type(None)) if k == "ref" else str)), None)
        if wrong:
            raise TypeError(f"repo field '{wrong}' is {type(getattr(record, wrong)).__name__}, not a string")
        return record


@dataclass
class Manifest:
    experiment: str
    created: str
    repos: list[RepoRecord] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "version": MANIFEST_VERSION,
            "experiment": self.experiment,
            "created": self.created,
            "repos": [asdict(r) for r in self.repos],
        }

    def get(self, repo_id: str) -> RepoRecord | None:
        return next((r for r in self.repos if r.id == repo_id), None)


class Workspace:
    """Paths and registries under one R2E home. Creating it touches nothing on disk."""

    def __init__(self, home: Path | str | None = None):
        self.home = Path(home).expanduser().resolve() if home else default_home().resolve()

    # ---- paths
    @property
    def repos_dir(self) -> Path:
        return self.home / "repos"

    @property
    def experiments_dir(self) -> Path:
        return self.home / "experiments"

    @property
    def registry_path(self) -> Path:
        return self.home / "repos.json"

    @property
    def lock_path(self) -> Path:
        return self.home / ".lock"

    def repo_path(self, repo_id: str) -> Path:
        return self.repos_dir / repo_id

    def experiment_dir(self, exp: str) -> Path:
        check_experiment_name(exp)
        return self.experiments_dir / exp

    def manifest_path(self, exp: str) -> Path:
        return self.experiment_dir(exp) / "manifest.json"

    def cache_dir(self, name: str) -> Path:
        return self.home / "cache" / name

    # ---- repo registry
    def load_registry(self) -> dict[str, dict]:
        data = _read_json_object(self.registry_path, "r2e setup")
        registry = data if data is not None else {}
        bad = next((rid for rid, rec in registry.items() if not _is_registry_entry(rec)), None)
        if bad is not None:  # checked here, so no stage meets a wrong type half-way through a batch
            raise R2EError(f"{self.registry_path}: entry '{bad}' is not a repository record "
                           f"(fix or move it aside, then run `r2e setup` to make it again)")
        return registry

    def register_repo(self, record: RepoRecord) -> None:
        with file_lock(self.lock_path):
            registry = self.load_registry()
            registry[record.id] = asdict(_keep_added(record, registry.get(record.id)))
            atomic_write_json(self.registry_path, registry)

    def taken_repo_ids(self) -> set[str]:
        taken = set(self.load_registry())
        if self.repos_dir.is_dir():
            taken |= {p.name for p in self.repos_dir.iterdir() if not p.name.startswith(TMP_PREFIX)}
        return taken

    # ---- experiments
    def experiment_exists(self, exp: str) -> bool:
        return self.manifest_path(exp).exists()

    def load_manifest(self, exp: str, *, must_exist: bool = True) -> Manifest:
        path = self.manifest_path(exp)
        data = _read_json_object(path, f"r2e setup -e {exp}")
        if data is None:
            if must_exist:
                raise R2EError(f"experiment '{exp}' not found: no {path} (run `r2e setup -e {exp}` first)")
            return Manifest(experiment=exp, created=now_iso())
        try:
            return Manifest(
                experiment=data.get("experiment", exp),
                created=data.get("created", now_iso()),
                repos=[RepoRecord.from_dict(r) for r in data.get("repos", [])],
            )
        except (AttributeError, TypeError) as exc:
            raise R2EError(f"{path}: not a valid manifest ({exc}) "
                           f"(fix or move it aside, then run `r2e setup -e {exp}` to make it again)") from None

    def add_to_manifest(self, exp: str, record: RepoRecord) -> None:
        """Add or replace one repo in the experiment's manifest (atomic, locked)."""
        with file_lock(self.lock_path):
            manifest = self.load_manifest(exp, must_exist=False)
            old = manifest.get(record.id)
            record = _keep_added(record, asdict(old) if old else None)
            if old:  # replaced in place: a re-run keeps the manifest's order
                manifest.repos = [record if r.id == record.id else r for r in manifest.repos]
            else:
                manifest.repos.append(record)
            atomic_write_json(self.manifest_path(exp), manifest.to_dict())

    def ensure_experiment(self, exp: str) -> None:
        with file_lock(self.lock_path):
            if not self.manifest_path(exp).exists():
                atomic_write_json(self.manifest_path(exp), Manifest(exp, now_iso()).to_dict())

    def repos_of(self, exp: str, only: list[str] | tuple[str, ...] | None = None) -> list[RepoRecord]:
        """The experiment's repos, optionally restricted to ids in `only` (unknown ids are an error)."""
        repos = self.load_manifest(exp).repos
        if only:
            known = {r.id for r in repos}
            missing = [r for r in only if r not in known]
            if missing:
                raise R2EError(f"repo '{missing[0]}' is not in experiment '{exp}'")
            repos = [r for r in repos if r.id in set(only)]
        return repos

    def sweep_temp_dirs(self) -> None:
        """Remove leftovers of interrupted clones/copies."""
        if not self.repos_dir.is_dir():
            return
        for entry in self.repos_dir.iterdir():
            if entry.name.startswith(TMP_PREFIX):
                shutil.rmtree(entry, ignore_errors=True)

    def iter_experiments(self) -> Iterator[str]:
        if self.experiments_dir.is_dir():
            for d in sorted(self.experiments_dir.iterdir()):
                if (d / "manifest.json").exists():  # any folder name, valid or not
                    yield d.name


def _read_json_object(path: Path, maker: str) -> dict | None:
    """The JSON object in `path`, None if there is no file; a one-line error if it is not one."""
    try:
        data = read_json(path)
    except UnicodeDecodeError:
        problem = "not UTF-8 text (corrupt?)"
    except ValueError as exc:
        problem = f"not valid JSON ({exc})"
    except OSError as exc:
        problem = f"unreadable ({exc.strerror})"
    else:
        if data is None or isinstance(data, dict):
            return data
        problem = f"is {type(data).__name__}, not an object"
    # re-running the maker alone would meet the same file: it has to be fixed or moved aside first
    raise R2EError(f"{path}: {problem} (fix or move it aside, then run `{maker}` to make it again)")


def _is_registry_entry(rec: object) -> bool:
    return (isinstance(rec, dict) and isinstance(rec.get("kind"), str) and isinstance(rec.get("source"), str)
            and isinstance(rec.get("ref"), (str, type(None))))


def _keep_added(record: RepoRecord, old: dict | None) -> RepoRecord:
    """A repo re-set-up at the same commit keeps the date it was first added."""
    if old and old.get("commit") == record.commit and old.get("added"):
        return replace(record, added=old["added"])
    return record


def check_experiment_name(exp: str) -> None:
    if not is_valid_experiment(exp):
        raise R2EUsageError(
            f"invalid experiment name '{exp}': use letters, digits, '.', '_' or '-' (no '/', '..' or spaces)"
        )
