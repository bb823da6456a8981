"""Scripts that run INSIDE a repo's environment, in the repo's own interpreter.

Each module here is copied into the sandbox as a plain file and run there, so it may use only the
standard library (and coverage, which execution brings in when the environment lacks it) and
Python 3.8 syntax. Nothing in this package imports the rest of r2e, except the tracer's fallback
import of the runner when it is imported as a package module (tooling, tests) rather than run
beside a copy of the runner.

- runner.py: runs one function's harness twice and measures the function's coverage.
- tracer.py: runs the repo's pytest suite with the target functions wrapped (carving), then
  replays the recorded calls in a fresh process.
- compare.py: structural comparison of values, used by the replay and inlined into carved harnesses.
"""

from importlib import resources
from pathlib import Path


def script(name: str) -> str:
    """The source of one sandbox script (`runner.py`, `tracer.py`, `compare.py`), to copy into an environment."""
    return (resources.files(__name__) / name).read_text(encoding="utf-8")


def script_path(name: str) -> Path:
    return Path(__file__).with_name(name)
