"""The agent's hands inside an environment: the tool scripts copied in once, every call through
`Environment.execute`, and the repository's diff read back at the end.

Everything runs in the sandbox: file_editor and search are stdlib scripts run by the
environment's python3, execute_bash is the command itself. The scripts and the editor's undo
history sit in a private folder outside the repository, so they never appear in the diff.
"""

from __future__ import annotations

import base64
import json
import shlex
import tempfile
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from installers.environment import Environment, ExecResult

TOOL_SCRIPTS = ("file_editor.py", "search.py")
# Beyond this, arguments go in by file copy: one argv string may not exceed 128 KiB on Linux.
INLINE_ARGS_LIMIT = 64_000
SETUP_TIMEOUT = 60


@dataclass(frozen=True)
class ToolOutput:
    output: str
    exit_code: int
    timed_out: bool
    duration: float


class Sandbox:
    def __init__(self, env: Environment, step_timeout: float = 90, root: str = "/tmp"):
        self.env = env
        self.step_timeout = step_timeout
        self.dir = f"{root.rstrip('/')}/r2e-agent-{uuid.uuid4().hex[:12]}"
        self.python = "python3"
        self.installed = False

    # -- setup and teardown -------------------------------------------------------------------
    def install(self) -> None:
        """Copy the tool scripts in and find the environment's python3 (once per run)."""
        res = self.env.execute(f"mkdir -p {shlex.quote(self.dir)}", cwd="/", timeout=SETUP_TIMEOUT)
        if not res.ok:
            raise SandboxError(f"cannot create {self.dir} in the environment: {res.output.strip()[:300]}")
        with tempfile.TemporaryDirectory() as tmp:
            for name in TOOL_SCRIPTS:
                src = Path(tmp) / name
                src.write_text((resources.files("harness.agents") / "sandbox_tools" / name).read_text(encoding="utf-8"))
                self.env.copy_to(src, f"{self.dir}/{name}")
        found = self.env.execute("command -v python3 || command -v python", cwd="/", timeout=SETUP_TIMEOUT)
        if not found.ok or not found.output.strip():
            raise SandboxError("no python3 in the environment to run the agent's tools")
        self.python = found.output.strip().splitlines()[-1]
        self.installed = True

    def remove(self) -> None:
        self.env.execute(f"rm -rf {shlex.quote(self.dir)}", cwd="/", timeout=SETUP_TIMEOUT)

    # -- the tools ----------------------------------------------------------------------------
    def bash(self, cmd: str, timeout: float | None = None) -> ToolOutput:
        res = self.env.execute(cmd, cwd=self.env.workdir, timeout=timeout or self.step_timeout)
        return _out(res)

    def bash_split(self, cmd: str, timeout: float | None = None) -> tuple[ToolOutput, str, str]:
        """Run `cmd` keeping stdout and stderr apart (R2E-Gym shows them as [STDOUT] / [STDERR])."""
        err = f"{self.dir}/stderr-{uuid.uuid4().hex[:8]}"
        marker = f"R2E_STDERR_{uuid.uuid4().hex}"
        wrapped = (f"( {cmd}\n) 2>{shlex.quote(err)}; __r2e_rc=$?; printf '\\n{marker}\\n'; "
                   f"cat {shlex.quote(err)} 2>/dev/null; rm -f {shlex.quote(err)}; exit $__r2e_rc")
        out = self.bash(wrapped, timeout)
        if marker in out.output:
            stdout, _, stderr = out.output.partition(f"\n{marker}\n")
        else:  # killed before the marker (a timeout): what was printed is all there is
            stdout, stderr = out.output, ""
            self.env.execute(f"rm -f {shlex.quote(err)}", cwd="/", timeout=SETUP_TIMEOUT)
        return out, stdout, stderr

    def file_editor(self, params: dict) -> ToolOutput:
        return self._script("file_editor.py", params, extra_args=[f"{self.dir}/editor_state.json"])

    def search(self, params: dict) -> ToolOutput:
        return self._script("search.py", params)

    def _script(self, name: str, params: dict, extra_args: list[str] = ()) -> ToolOutput:
        payload = base64.b64encode(json.dumps(params).encode("utf-8")).decode("ascii")
        argv = " ".join(shlex.quote(a) for a in [self.python, f"{self.dir}/{name}", *extra_args])
        if len(payload) <= INLINE_ARGS_LIMIT:
            cmd = f"{argv} <<'R2E_ARGS'\n{payload}\nR2E_ARGS"
        else:
            args_path = f"{self.dir}/args-{uuid.uuid4().hex[:8]}.b64"
            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / "args.b64"
                src.write_text(payload)
                self.env.copy_to(src, args_path)
            cmd = f"{argv} < {shlex.quote(args_path)}; __r2e_rc=$?; rm -f {shlex.quote(args_path)}; exit $__r2e_rc"
        return self.bash(cmd)

    # -- the result ---------------------------------------------------------------------------
    def head_commit(self) -> str:
        res = self.env.execute("git rev-parse HEAD", cwd=self.env.workdir, timeout=SETUP_TIMEOUT)
        return res.output.strip().splitlines()[-1] if res.ok and res.output.strip() else ""

    def diff(self, base: str) -> str:
        """Everything changed in the workdir since `base` (new files included), binary-safe.

        A private index is used so the repository's own index stays as the agent left it.
        """
        index, patch = f"{self.dir}/index", f"{self.dir}/patch.diff"
        q = shlex.quote
        # -p keeps the index's mtime: git then re-reads files edited within its second ("racy git").
        cmd = (f"cp -p .git/index {q(index)} 2>/dev/null; export GIT_INDEX_FILE={q(index)}; "
               f"git add -A . && git diff --cached --binary {q(base or 'HEAD')} > {q(patch)}")
        res = self.env.execute(cmd, cwd=self.env.workdir, timeout=SETUP_TIMEOUT * 5)
        if not res.ok:
            raise SandboxError(f"git diff failed in the environment: {res.output.strip()[:300]}")
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "patch.diff"
            self.env.copy_from(patch, local)
            return local.read_bytes().decode("utf-8", errors="surrogateescape")


class SandboxError(RuntimeError):
    """The environment could not host the agent's tools (no python3, unwritable /tmp, no git)."""


def _out(res: ExecResult) -> ToolOutput:
    return ToolOutput(res.output, res.exit_code, res.timed_out, res.duration)
