"""C repositories: detect the build system, build with its commands, run its tests, count results.

CMake (ctest), Meson (meson test), autotools (make check), plain Makefiles (make check / make test)
and build.sh. Oracle = the build succeeds + the tests' pass ratio (from the runner's summary, or
the test command's exit code when it prints none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from installers.environment import Environment
from r2e.stage_records import Failure, OracleResult

C_SUFFIXES = {".c", ".h", ".cc", ".cpp", ".cxx", ".hpp"}


@dataclass(frozen=True)
class CBuild:
    system: str  # cmake | meson | autotools | make | script
    build: list[str]
    test: str | None


def detect(repo: Path) -> CBuild | None:
    """The build system at the repo root, or None when there is none (or no C sources)."""
    repo = Path(repo)
    if not any(p.suffix in C_SUFFIXES for p in _walk(repo)):
        return None
    if (repo / "CMakeLists.txt").is_file():
        return CBuild("cmake", ["cmake -S . -B _r2e_build -DCMAKE_BUILD_TYPE=RelWithDebInfo",
                                "cmake --build _r2e_build -j 2"],
                      "ctest --test-dir _r2e_build --output-on-failure")
    if (repo / "meson.build").is_file():
        return CBuild("meson", ["meson setup _r2e_build", "meson compile -C _r2e_build"], "meson test -C _r2e_build")
    if any((repo / f).is_file() for f in ("configure", "configure.ac", "configure.in", "autogen.sh")):
        prep = "[ -x configure ] || { [ -x autogen.sh ] && ./autogen.sh; } || autoreconf -fi"
        return CBuild("autotools", [prep, "./configure", "make -j2"], "make check")
    for name in ("Makefile", "makefile", "GNUmakefile"):
        if (repo / name).is_file():
            text = (repo / name).read_text(encoding="utf-8", errors="replace")
            target = "check" if re.search(r"^check\s*:", text, re.M) else "test" if re.search(r"^test\s*:", text, re.M) else None
            return CBuild("make", ["make -j2"], f"make {target}" if target else None)
    if (repo / "build.sh").is_file():
        return CBuild("script", ["bash build.sh"], None)
    return None


def _walk(repo: Path):
    count = 0
    for p in repo.rglob("*"):
        count += 1
        if count > 20000:
            return
        if ".git" not in p.parts:
            yield p


def is_c_repo(repo: Path, python_files: int) -> bool:
    """C when a build system is found and the repo is not mostly Python."""
    if detect(repo) is None:
        return False
    c_files = sum(1 for p in _walk(Path(repo)) if p.suffix in C_SUFFIXES)
    return c_files > python_files


def parse_test_counts(system: str, output: str, exit_code: int) -> dict:
    """passed/failed counts from ctest, meson, automake or TAP-ish output; exit code as a last resort."""
    m = re.search(r"(\d+)% tests passed, (\d+) tests? failed out of (\d+)", output)
    if m:
        failed, total = int(m.group(2)), int(m.group(3))
        return {"passed": total - failed, "failed": failed, "source": "ctest"}
    ok = re.search(r"^Ok:\s+(\d+)", output, re.M)
    fail = re.search(r"^Fail:\s+(\d+)", output, re.M)
    if ok and fail:
        timeout = re.search(r"^Timeout:\s+(\d+)", output, re.M)
        return {"passed": int(ok.group(1)), "failed": int(fail.group(1)) + int(timeout.group(1) if timeout else 0),
                "source": "meson"}
    p = re.findall(r"^# PASS:\s+(\d+)", output, re.M)
    f = re.findall(r"^# (?:FAIL|ERROR|XPASS):\s+(\d+)", output, re.M)
    if p:
        return {"passed": sum(map(int, p)), "failed": sum(map(int, f)), "source": "automake"}
    oks = len(re.findall(r"^ok \d+", output, re.M))
    not_oks = len(re.findall(r"^not ok \d+", output, re.M))
    if oks + not_oks:
        return {"passed": oks, "failed": not_oks, "source": "tap"}
    return {"passed": 1 if exit_code == 0 else 0, "failed": 0 if exit_code == 0 else 1, "source": "exit code"}


def run_c_oracle(env: Environment, cb: CBuild, run, test_timeout: float) -> OracleResult:
    """Build, then test. `run(kind, command, timeout)` records each command (Installer.run)."""
    for cmd in cb.build:
        res = run("build", cmd, 1200)
        if not res.ok:
            return OracleResult(built=False, output_tail=res.output[-6000:], timed_out=res.timed_out)
    if not cb.test:
        return OracleResult(built=True)
    res = run("test", cb.test, test_timeout)
    counts = parse_test_counts(cb.system, res.output, res.exit_code)
    return OracleResult(built=True, tests_run=True, passed=counts["passed"], failed=counts["failed"],
                        source=counts["source"], pytest_exit=res.exit_code, timed_out=res.timed_out,
                        output_tail=res.output[-6000:]).with_ratio()


def c_status(oracle: OracleResult, min_pass_ratio: float) -> str:
    """The build status a C oracle result earns."""
    if oracle.timed_out:
        return "timeout"
    if not oracle.built:
        return "failed"
    if not oracle.tests_run or oracle.pass_ratio is None:
        return "no_tests"
    if oracle.pass_ratio >= min_pass_ratio:
        return "success"
    return "partial" if oracle.passed else "failed"


def c_failure(oracle: OracleResult, status: str) -> Failure | None:
    if status == "success":
        return None
    cls = "BuildFailed" if not oracle.built else ("NoTests" if status == "no_tests" else "TestsFailed")
    return Failure(cls, oracle.output_tail[-300:])
