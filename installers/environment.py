"""The one seam every command runs through: an environment that executes shell commands.

Backends (local venv, docker container) implement `Environment`. Each `execute` is a fresh
`bash -lc`, so state lives only in files; failures and timeouts come back as data, never raised.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TIMEOUT = 600
OUTPUT_LIMIT = 200_000  # characters kept of a command's output (head and tail)


@dataclass(frozen=True)
class ExecResult:
    exit_code: int  # -1 when the command timed out or could not start
    output: str  # stdout and stderr interleaved
    timed_out: bool = False
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


# Login shells may reset PATH (Debian's /etc/profile does): put the venv back in front.
VENV_PATH_PREFIX = 'if [ -n "${VIRTUAL_ENV:-}" ]; then export PATH="$VIRTUAL_ENV/bin:$PATH"; fi\n'


def clip_output(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """Keep the head and the tail of very long output: errors usually sit at the end."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - limit} characters cut] ...\n{text[-half:]}"


class Environment(abc.ABC):
    """A place where a repository lives and commands run: `workdir` is the repo root inside it."""

    workdir: str
    venv: str  # the repo's virtual environment inside the environment
    supports_commit: bool = False  # can `commit` save this environment as an image?

    @abc.abstractmethod
    def execute(self, command: str, cwd: str | None = None, timeout: float | None = None,
                env: dict[str, str] | None = None) -> ExecResult:
        """Run `command` with `bash -lc` in `cwd` (default: workdir). Kill the whole process group on timeout."""

    @abc.abstractmethod
    def copy_to(self, src: Path, dest: str, exclude: frozenset[str] | set[str] = frozenset()) -> None:
        """Copy a host file or folder into the environment at path `dest` (absolute, or relative to
        workdir), leaving out every file or folder whose name is in `exclude`."""

    @abc.abstractmethod
    def copy_from(self, src: str, dest: Path) -> None:
        """Copy a file or folder from the environment to the host path `dest`."""

    def commit(self, repository: str, tag: str, changes: list[str] | None = None) -> str:
        """Save the environment as the image `repository:tag`; return its id. Only where `supports_commit`."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved as an image")

    def close(self) -> None:
        """Release the environment (remove the container, etc.). Safe to call twice."""

    @property
    def python(self) -> str:
        return f"{self.venv}/bin/python"

    def __enter__(self) -> "Environment":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
