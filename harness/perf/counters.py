"""Instruction counters: `perf stat` where the kernel allows it, else valgrind's callgrind.

callgrind counts only inside `_PyEval_CallTracing`, the C function behind `sys.call_tracing`, through
which the runner makes its timed call (`--call-tracing`): interpreter start-up, imports and `setup()`
are not counted. `perf stat` counts the whole process, so there the harness's instructions are a
difference: a run with the timed call minus a run that only does `setup()`. With PYTHONHASHSEED
fixed, callgrind's counts are deterministic and do not move when the machine is loaded.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from installers.environment import Environment

# An image without valgrind gets the host's callgrind (valgrind's launcher is static; the tool and
# its preload library need the same C library: both are Debian builds here). Never a download.
HOST_VALGRIND_LIB = Path("/usr/libexec/valgrind")
CALLGRIND_FILES = ("callgrind-amd64-linux", "vgpreload_core-amd64-linux.so", "default.supp")
COPIED = "/opt/r2e-valgrind"

_PERF = re.compile(r"^\s*([\d,.]+)\s*,[^,]*,instructions", re.M)
_CALLGRIND = re.compile(r"Collected\s*:\s*([\d,]+)")


def detect(env: Environment) -> str:
    """perf | callgrind | none: the first counter that works in this environment."""
    res = env.execute("perf stat -x, -e instructions:u true 2>&1", timeout=30)
    if res.ok and _PERF.search(res.output) and "not supported" not in res.output:
        return "perf"
    if env.execute("valgrind --version", timeout=30).ok:
        return "callgrind"
    if copy_host_callgrind(env):
        return "callgrind"
    return "none"


def copy_host_callgrind(env: Environment) -> bool:
    """Put the host's callgrind into the environment at COPIED; True when it then runs there."""
    launcher = shutil.which("valgrind")
    if launcher and Path(launcher + ".bin").exists():  # Debian's valgrind is a script around valgrind.bin
        launcher += ".bin"
    if not launcher or not all((HOST_VALGRIND_LIB / f).exists() for f in CALLGRIND_FILES):
        return False
    with tempfile.TemporaryDirectory(prefix="r2e-valgrind-") as tmp:
        folder = Path(tmp) / "r2e-valgrind"
        (folder / "lib").mkdir(parents=True)
        shutil.copy2(launcher, folder / "valgrind")
        for name in CALLGRIND_FILES:
            shutil.copy2(HOST_VALGRIND_LIB / name, folder / "lib" / name)
        env.copy_to(folder, COPIED)
    probe = f"VALGRIND_LIB={COPIED}/lib {COPIED}/valgrind --tool=callgrind --callgrind-out-file=/dev/null true 2>&1"
    return "Collected" in env.execute(probe, timeout=120).output


CALLGRIND_ALL = "valgrind --tool=callgrind --callgrind-out-file=/dev/null --trace-children=yes"
CALLGRIND = f"{CALLGRIND_ALL} --collect-atstart=no --toggle-collect=_PyEval_CallTracing"


def wrap(counter: str, command: str, scratch: str) -> str:
    """`counter`: perf, callgrind (only the timed call), or callgrind-all (the whole process: for a
    stripped interpreter whose _PyEval_CallTracing callgrind cannot see)."""
    if counter == "perf":
        return f"perf stat -x, -e instructions:u -o {scratch}.perf {command}; rc=$?; cat {scratch}.perf >&2; exit $rc"
    if counter in ("callgrind", "callgrind-all"):
        tool = CALLGRIND if counter == "callgrind" else CALLGRIND_ALL
        return (f"if command -v valgrind >/dev/null; then {tool} {command}; "
                f"else VALGRIND_LIB={COPIED}/lib {COPIED}/{tool} {command}; fi")
    return command


def parse(counter: str, output: str) -> int | None:
    pattern = _PERF if counter == "perf" else _CALLGRIND if counter.startswith("callgrind") else None
    match = pattern.findall(output) if pattern else None
    if not match:
        return None
    return int(re.sub(r"[^\d]", "", match[-1]))
