"""Instruction counters: `perf stat` where the kernel allows it, else valgrind's callgrind.

callgrind counts only inside `_PyEval_CallTracing`, the C function behind `sys.call_tracing`, through
which the runner makes its timed call (`--call-tracing`): interpreter start-up, imports and `setup()`
are not counted. `perf stat` counts the whole process, so there the harness's instructions are a
difference: a run with the timed call minus a run that only does `setup()`. With PYTHONHASHSEED
fixed, callgrind's counts are deterministic and do not move when the machine is loaded.
"""

from __future__ import annotations

import re

from installers.environment import Environment

_PERF = re.compile(r"^\s*([\d,.]+)\s*,[^,]*,instructions", re.M)
_CALLGRIND = re.compile(r"Collected\s*:\s*([\d,]+)")


def detect(env: Environment) -> str:
    """perf | callgrind | none: the first counter that works in this environment."""
    res = env.execute("perf stat -x, -e instructions:u true 2>&1", timeout=30)
    if res.ok and _PERF.search(res.output) and "not supported" not in res.output:
        return "perf"
    if env.execute("valgrind --version", timeout=30).ok:
        return "callgrind"
    return "none"


CALLGRIND = ("valgrind --tool=callgrind --callgrind-out-file=/dev/null --trace-children=yes "
             "--collect-atstart=no --toggle-collect=_PyEval_CallTracing")


def wrap(counter: str, command: str, scratch: str) -> str:
    if counter == "perf":
        return f"perf stat -x, -e instructions:u -o {scratch}.perf {command}; rc=$?; cat {scratch}.perf >&2; exit $rc"
    if counter == "callgrind":
        return f"{CALLGRIND} {command}"
    return command


def parse(counter: str, output: str) -> int | None:
    pattern = _PERF if counter == "perf" else _CALLGRIND if counter == "callgrind" else None
    match = pattern.findall(output) if pattern else None
    if not match:
        return None
    return int(re.sub(r"[^\d]", "", match[-1]))
