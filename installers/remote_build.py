"""A build that runs on another machine (a Ray node) and comes back as data.

The head packs a `BuildUnit` (the repo as a git bundle, the options, the ids); the node builds it
with `build_repo` into a scratch experiment and returns the result and the build folder's files;
the head writes them into the real experiment, so results look as they do when built locally.
Nothing assumes a shared filesystem: each node has its own Docker Engine and base images (built on
first use by the same debootstrap path), and optionally a registry to share repo images.
"""

from __future__ import annotations

import inspect
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, fields, replace
from pathlib import Path

from installers.build import build_repo
from installers.docker_env import DockerEnvironment, close_all
from installers.images import LABEL
from installers.installer import CANCELLED
from installers.local_env import hide_variable, kill_all
from installers.options import BuildOptions
from r2e.errors import R2EError
from r2e.executor import Resources, node_label, placement
from r2e.experiment import Experiment
from r2e.stage_records import BuildResult
from r2e.workspace import Workspace

SCRATCH_PREFIX = "r2e-ray-"  # a node's scratch folder per build: <tmp>/r2e-ray-<run>-<random>
MAX_FILE_BYTES = 20_000_000  # a build folder file larger than this is not shipped back (logs are clipped before)


def container_memory() -> int:
    """Bytes a build container may use (DockerEnvironment's default limit): what a build task reserves."""
    return parse_bytes(inspect.signature(DockerEnvironment.__init__).parameters["mem_limit"].default)


def parse_bytes(size: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    size = str(size).strip().lower().rstrip("b")
    if size and size[-1] in units:
        return int(float(size[:-1]) * units[size[-1]])
    return int(size)


def build_resources() -> Resources:
    return Resources(cpus=1, memory=container_memory())


@dataclass(frozen=True)
class BuildUnit:
    """Everything a node needs to build one repo."""

    exp: str
    repo_id: str
    commit: str | None
    bundle: bytes
    opts: BuildOptions  # without the head's docker client, notifier or LLM breaker
    llm: dict | None  # the LLM settings as plain fields (the key stays in the node's environment)
    run_id: str
    min_free_gb: float = 0.0
    registry: str | None = None
    prev_image: str | None = None  # the repo's image from an earlier build: pulled from the registry if set


def git_bundle(repo: Path) -> bytes:
    """The checkout's HEAD as a git bundle (history included: tests may need tags or versions)."""
    with tempfile.TemporaryDirectory(prefix="r2e-bundle-") as tmp:
        out = Path(tmp) / "repo.bundle"
        proc = subprocess.run(["git", "-C", str(repo), "bundle", "create", str(out), "HEAD"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["git bundle failed"])[-1]
            raise R2EError(f"{repo}: cannot bundle the checkout ({last})")
        return out.read_bytes()


def unbundle(data: bytes, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    bundle = dest.parent / f"{dest.name}.bundle"
    bundle.write_bytes(data)
    proc = subprocess.run(["git", "clone", "--quiet", str(bundle), str(dest)], capture_output=True, text=True)
    bundle.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise R2EError(f"cannot unpack the repo bundle: {proc.stderr.strip()[-300:]}")


def shippable(opts: BuildOptions) -> tuple[BuildOptions, dict | None]:
    """The options as a node gets them: no live client or callback, the LLM as plain settings."""
    llm = None
    if opts.llm is not None:
        llm = {f.name: getattr(opts.llm, f.name) for f in fields(opts.llm) if f.name != "breaker"}
    return replace(opts, docker_client=None, notify=None, llm=None), llm


def node_options(unit: BuildUnit) -> BuildOptions:
    """The unit's options with this node's own caches (the head's paths mean nothing here)."""
    cache = Path(tempfile.gettempdir()) / "r2e-node-cache"
    opts = unit.opts
    if opts.wheelhouse is not None:
        opts = replace(opts, wheelhouse=cache / "wheelhouse")
    if unit.llm is not None:
        from r2e.llm.config import LLMConfig

        hide_variable(unit.llm["api_key_env"])  # as on the head: the key's variable never reaches a command
        llm = dict(unit.llm)
        if llm.get("cache_path") is not None:
            llm["cache_path"] = cache / "llm-cache.sqlite3"
        opts = replace(opts, llm=LLMConfig(**llm))
    return opts


# ---------------------------------------------------------------------------------------- registry
def registry_ref(image: str, registry: str) -> tuple[str, str]:
    """Where `image` (name:tag) lives in the registry HOST:PORT: (repository, tag)."""
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:
        repository, tag = image, "latest"
    return f"{registry.rstrip('/')}/{repository}", tag


def push_image(client, image: str, registry: str) -> str:
    """Tag `image` for the registry and push it; return the pushed name."""
    repository, tag = registry_ref(image, registry)
    client.images.get(image).tag(repository, tag)
    for line in client.images.push(repository, tag=tag, stream=True, decode=True):
        if isinstance(line, dict) and line.get("error"):
            raise R2EError(f"push {repository}:{tag}: {line['error']}")
    return f"{repository}:{tag}"


def pull_image(client, image: str, registry: str) -> bool:
    """Fetch `image` from the registry under its local name (so the build reuses it); False if absent."""
    repository, tag = registry_ref(image, registry)
    try:
        pulled = client.images.pull(repository, tag=tag)
        local_repo, _, local_tag = image.rpartition(":")
        pulled.tag(local_repo or image, local_tag or "latest")
        return True
    except Exception:
        return False


# ---------------------------------------------------------------------------------------- on the node
def run_unit(unit: BuildUnit) -> dict:
    """Build one repo here; return {"result": BuildResult dict, "files": {name: bytes}}."""
    CANCELLED.clear()  # a Ray worker runs tasks one after another: an earlier cancel is not this one's
    root = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{unit.run_id}-"))
    where = placement()
    ours = {"node": node_label(where.node_ip, where.node_id), "node_id": where.node_id, "attempts": where.attempt}
    if where.attempt > 1:
        ours["nodes_tried"] = list(where.nodes_tried)
    try:
        if shutil.disk_usage(root).free / 1e9 < unit.min_free_gb:
            result = BuildResult(unit.repo_id, "not_started", backend=unit.opts.backend,
                                 extra={"reason": "disk below floor", **ours})
            return {"result": result.to_dict(), "files": {}}
        repo = root / "repos" / unit.repo_id
        unbundle(unit.bundle, repo)
        exp = Experiment(Workspace(root / "home"), unit.exp)
        opts = node_options(unit)
        client = None
        if opts.backend == "docker" and unit.registry and unit.prev_image:
            client = _client(opts)
            if client is not None:
                pull_image(client, unit.prev_image, unit.registry)
        result = build_repo(unit.repo_id, repo, exp, opts)
        if result.status == "cancelled":
            return {"result": result.to_dict(), "files": {}}
        extra = dict(ours)
        if opts.backend == "docker" and unit.registry and result.image:
            try:
                extra["registry_image"] = push_image(client or _client(opts), result.image, unit.registry)
            except Exception as exc:  # the image is still on this node: a failed push is noted, not fatal
                extra["registry_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        result = replace(result, extra={**result.extra, **extra})
        return {"result": result.to_dict(), "files": collect_files(exp.build_files(unit.repo_id).dir)}
    except KeyboardInterrupt:  # ray.cancel: stop this build's commands and containers before leaving
        CANCELLED.set()
        kill_all()
        close_all()
        raise
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _client(opts: BuildOptions):
    from installers.backends import docker_client

    try:
        return docker_client(opts)
    except R2EError:
        return None


def collect_files(folder: Path) -> dict[str, bytes]:
    """The build folder's files (install.log, plan.json, Dockerfile, run_tests.sh, repairs.json, ...);
    result.json travels as the record, environments (venv/, checkout/) stay on the node."""
    out = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.iterdir()):
        if path.name == "result.json" or not path.is_file() or path.is_symlink():
            continue
        if path.stat().st_size <= MAX_FILE_BYTES:
            out[path.name] = path.read_bytes()
    return out


# ---------------------------------------------------------------------------------------- on the head
class RemoteBuilds:
    """The head's side: pack units, say where each should preferably run, write results back."""

    def __init__(self, exp: Experiment, opts: BuildOptions, *, registry: str | None = None,
                 min_free_gb: float = 0.0):
        self.exp, self.registry, self.min_free_gb = exp, registry, min_free_gb
        self.opts, self.llm = shippable(opts)
        self.run_id = uuid.uuid4().hex[:8]
        self.prefer: dict[str, str] = {}  # repo id -> node id holding its image

    def previous(self, repo_id: str) -> BuildResult | None:
        try:
            return self.exp.build_result(repo_id)
        except Exception:
            return None

    def unit(self, item) -> BuildUnit:
        prev = self.previous(item.repo_id)
        return BuildUnit(self.exp.name, item.repo_id, item.commit, git_bundle(Path(item.path)),
                         self.opts.for_commit(item.commit), self.llm, self.run_id, self.min_free_gb,
                         self.registry, prev.image if prev else None)

    def locate(self, items, executor) -> None:
        """Rebuilds go preferably where the repo's image already is (the build then reuses it)."""
        images = {}
        for it in items:
            prev = self.previous(it.repo_id)
            if prev is not None and prev.image:
                images[it.repo_id] = prev.image
                if prev.extra.get("node_id"):
                    self.prefer[it.repo_id] = prev.extra["node_id"]
        if not images or self.opts.backend != "docker":
            return
        held: dict[str, str] = {}
        for answer in executor.on_each_node(node_images).values():
            if isinstance(answer, dict):
                for name in answer.get("images", []):
                    held.setdefault(name, answer["node_id"])
        for repo_id, image in images.items():
            if image in held:
                self.prefer[repo_id] = held[image]

    def hint(self, item) -> str | None:
        return self.prefer.get(item.repo_id)

    def write_back(self, payload: dict) -> BuildResult:
        """Write a node's build into the experiment: its files, then the result (whose presence means done)."""
        result = BuildResult.from_dict(payload["result"])
        if result.status in ("cancelled", "not_started"):
            return result  # nothing ran to its end: no verdict, the repo stays to build
        self.exp.write_build_files(result.repo, payload.get("files") or {})
        self.exp.write_build_result(result)
        return result


def node_images() -> dict:
    """On a node: its id and the r2e images its engine holds."""
    import ray

    out = {"node_id": ray.get_runtime_context().get_node_id(), "images": []}
    try:
        import docker

        client = docker.from_env(timeout=30)
        out["images"] = [t for img in client.images.list(filters={"label": LABEL}) for t in (img.tags or [])]
    except Exception:
        pass
    return out


def container_prefix(repo_id: str) -> str:
    """The name every build container of `repo_id` starts with (DockerEnvironment names them so)."""
    return "r2e-" + "".join(c if c.isalnum() or c in "_.-" else "-" for c in repo_id)[:40] + "-"


def cleanup_node(run_id: str, repo_ids: list[str]) -> dict:
    """On a node, after Ctrl-C: kill the run's commands, remove its containers and scratch folders."""
    from installers.orphans import reap_orphans

    marker = f"{SCRATCH_PREFIX}{run_id}-"
    killed = 0
    deadline = time.monotonic() + 10
    while True:  # a force-cancelled worker may take a moment to die, and its commands with it
        found = _processes_using(marker)
        for pid in found:
            killed += _kill(pid)
        if not found or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    reaped = reap_orphans()
    removed = remove_containers(repo_ids)
    scratch = 0
    for folder in Path(tempfile.gettempdir()).glob(f"{marker}*"):
        shutil.rmtree(folder, ignore_errors=True)
        scratch += 1
    return {"killed": killed + reaped, "containers": removed, "scratch": scratch}


def remove_containers(repo_ids: list[str], client=None) -> int:
    prefixes = tuple(container_prefix(r) for r in repo_ids)
    if not prefixes:
        return 0
    try:
        if client is None:
            import docker

            client = docker.from_env(timeout=30)
        containers = client.containers.list(all=True, filters={"label": LABEL})
    except Exception:  # no engine on this node: no containers either
        return 0
    removed = 0
    for c in containers:
        if c.name.startswith(prefixes):
            try:
                c.remove(force=True)
                removed += 1
            except Exception:
                continue
    return removed


def _processes_using(marker: str) -> list[int]:
    """Processes whose command line or working folder is in the run's scratch folders."""
    me = os.getpid()
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                cwd = ""
        except OSError:
            continue
        if marker in cmd or marker in cwd:
            out.append(int(entry.name))
    return out


def _kill(pid: int) -> int:
    try:
        pgid = os.getpgid(pid)
        if pgid not in (os.getpgid(0),) and pgid > 1:
            os.killpg(pgid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
        return 1
    except OSError:
        return 0
