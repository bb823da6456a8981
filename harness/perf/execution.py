"""Run a harness at a commit, in the repo's Environment.

Each commit gets a git worktree of the environment's checkout (local: the repo's checkout; docker:
/testbed in the container; an image without git gets the tree from the host's checkout, copied in),
and the harness runs with that tree first on sys.path, in the
environment's interpreter (the build's venv, or the fallback venv). The runner is copied in once.
"""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import tarfile
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from harness.perf import counters
from harness.perf.runner import MARKER
from installers.environment import Environment

RUNNER = Path(__file__).with_name("runner.py")
COMPARE = Path(__file__).parent.parent / "sandbox" / "compare.py"


@dataclass
class RunResult:
    ok: bool
    wall: float | None = None
    cpu: float | None = None
    digest: str | None = None
    error: str = ""
    instructions: int | None = None
    timed_out: bool = False
    raw: dict = field(default_factory=dict)


class PerfSession:
    """One repo's environment prepared for perf runs: worktrees per commit, the runner, scripts."""

    def __init__(self, env: Environment, key: str | None = None, host_checkout: str | None = None):
        self.env, self.host_checkout = env, host_checkout
        self._has_git: bool | None = None
        self.scratch = f"/tmp/r2e-perf-{key or uuid.uuid4().hex[:10]}"
        self.trees: dict[str, str] = {}
        self.paths: dict[str, str] = {}  # commit -> PYTHONPATH (the tree, and its src/ when it has one)
        self.env.execute(f"mkdir -p {self.scratch}/trees {self.scratch}/scripts", timeout=60)
        self.env.copy_to(RUNNER, f"{self.scratch}/runner.py")
        # carved inputs may hold lambdas, which unpickle through the carving sandbox's compare module
        self.env.copy_to(COMPARE, f"{self.scratch}/lib/r2e_carve_compare.py")
        self._counter: str | None = None

    def tree(self, commit: str) -> str:
        if commit not in self.trees:
            dest = f"{self.scratch}/trees/{commit[:12]}"
            if self._env_has_git():
                res = self.env.execute(f"git -C {shlex.quote(self.env.workdir)} worktree add --force --detach "
                                       f"{dest} {commit}", timeout=300)
                if not res.ok:
                    raise RuntimeError(f"git worktree add {commit[:12]}: {res.output.strip()[-300:]}")
            else:
                self._copy_host_tree(commit, dest)
            self.trees[commit] = dest
            src = self.env.execute(f"test -d {dest}/src && ! test -e {dest}/src/__init__.py", timeout=30).ok
            self.paths[commit] = (f"{dest}:{dest}/src" if src else dest) + f":{self.scratch}/lib"
        return self.trees[commit]

    def _env_has_git(self) -> bool:
        if self._has_git is None:
            self._has_git = self.env.execute(f"git -C {shlex.quote(self.env.workdir)} rev-parse --git-dir",
                                             timeout=60).ok
        return self._has_git

    def _copy_host_tree(self, commit: str, dest: str) -> None:
        """An image without git: the tree is made from the host's checkout and copied in."""
        if not self.host_checkout:
            raise RuntimeError("the environment has no git and no host checkout was given")
        with tempfile.TemporaryDirectory(prefix="r2e-perf-tree-") as tmp:
            archive = subprocess.run(["git", "-C", self.host_checkout, "archive", "--format=tar", commit],
                                     capture_output=True)
            if archive.returncode != 0:
                raise RuntimeError(f"git archive {commit[:12]}: {archive.stderr.decode()[-300:]}")
            with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
                tar.extractall(tmp, filter="data")
            self.env.copy_to(Path(tmp), dest)

    def put_script(self, path: Path) -> str:
        dest = f"{self.scratch}/scripts/{path.name}"
        self.env.copy_to(path, dest)
        return dest

    def counter(self) -> str:
        if self._counter is None:
            self._counter = counters.detect(self.env)
        return self._counter

    def run(self, script: str, commit: str, *, scale: int = 1, warmup: int = 1, cpu: int | None = None,
            count: str | None = None, setup_only: bool = False, timeout: float = 120.0) -> RunResult:
        tree = self.tree(commit)
        path = self.paths[commit]
        args = [self.env.python, f"{self.scratch}/runner.py", script, "--scale", str(scale), "--warmup", str(warmup)]
        if setup_only:
            args.append("--setup-only")
        if count in ("callgrind", "callgrind-all"):
            args.append("--call-tracing")
        if cpu is not None:
            args += ["--cpu", str(cpu)]
        command = " ".join(shlex.quote(a) for a in args)
        if count:
            command = counters.wrap(count, command, f"{self.scratch}/count-{uuid.uuid4().hex[:8]}")
        res = self.env.execute(command, cwd=tree, timeout=timeout,
                               env={"PYTHONPATH": path, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"})
        raw = _parse(res.output)
        if res.timed_out:
            return RunResult(False, error=f"timed out after {timeout:.0f}s", timed_out=True, raw=raw)
        if not raw:
            return RunResult(False, error=f"no result (exit {res.exit_code}): {res.output.strip()[-800:]}")
        instr = counters.parse(count, res.output) if count else None
        if not raw.get("ok"):
            return RunResult(False, error=(raw.get("trace") or raw.get("error") or "")[-1500:], raw=raw)
        return RunResult(True, raw.get("wall"), raw.get("cpu"), raw.get("digest"), instructions=instr, raw=raw)

    def close(self) -> None:
        for tree in self.trees.values():
            self.env.execute(f"git worktree remove --force {tree} >/dev/null 2>&1; rm -rf {tree}", timeout=120)
        if self._has_git:
            self.env.execute("git worktree prune >/dev/null 2>&1", timeout=60)
        self.env.execute(f"rm -rf {self.scratch}", timeout=60)
        self.trees = {}


def _parse(output: str) -> dict:
    for line in reversed(output.splitlines()):
        if line.startswith(MARKER):
            try:
                return json.loads(line[len(MARKER):])
            except ValueError:
                return {}
    return {}
