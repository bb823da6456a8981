"""C repositories: build-system detection, result parsing, and a real make build + `make check`."""

from __future__ import annotations

import json

from installers.build import build_repo
from installers.cbuild import detect, parse_test_counts
from installers.options import BuildOptions
from r2e.stage_records import OracleResult
from tests.conftest import make_git_repo
from tests.installers.fixtures import experiment

MAKEFILE = """CC ?= cc
all: libadd.a
add.o: add.c add.h
\t$(CC) -c add.c -o add.o
libadd.a: add.o
\tar rcs libadd.a add.o
test_add: test_add.c libadd.a
\t$(CC) test_add.c libadd.a -o test_add
check: test_add
\t./test_add
.PHONY: all check
"""
TEST_C = """#include <stdio.h>
#include "add.h"
int main(void) {
    int bad = 0;
    if (add(2, 2) == 4) printf("ok 1 add\\n"); else { printf("not ok 1 add\\n"); bad = 1; }
    if (add(1, 1) == %s) printf("ok 2 add\\n"); else { printf("not ok 2 add\\n"); bad = 1; }
    return bad;
}
"""


def c_repo(path, expected="2"):
    make_git_repo(path, {"Makefile": MAKEFILE, "add.h": "int add(int a, int b);\n",
                         "add.c": '#include "add.h"\nint add(int a, int b) { return a + b; }\n',
                         "test_add.c": TEST_C % expected})
    return path


def test_detection(tmp_path):
    for files, system, test in [
        ({"CMakeLists.txt": "project(x C)\n", "a.c": ""}, "cmake", "ctest --test-dir _r2e_build --output-on-failure"),
        ({"meson.build": "project('x', 'c')\n", "a.c": ""}, "meson", "meson test -C _r2e_build"),
        ({"configure.ac": "AC_INIT\n", "a.c": ""}, "autotools", "make check"),
        ({"Makefile": "all:\n\ttrue\ntest:\n\ttrue\n", "a.c": ""}, "make", "make test"),
        ({"build.sh": "cc a.c\n", "a.c": ""}, "script", None),
    ]:
        repo = tmp_path / system
        make_git_repo(repo, files)
        cb = detect(repo)
        assert (cb.system, cb.test) == (system, test)
    make_git_repo(tmp_path / "none", {"Makefile": "all:\n"})
    assert detect(tmp_path / "none") is None  # no C sources


def test_result_parsing():
    ctest = "1/3 Test #1: a ... Passed\n67% tests passed, 1 tests failed out of 3\n"
    assert parse_test_counts("cmake", ctest, 8) == {"passed": 2, "failed": 1, "source": "ctest"}
    meson = "Ok:                 4\nExpected Fail:      0\nFail:               1\nTimeout:            0\n"
    assert (parse_test_counts("meson", meson, 1)["passed"], parse_test_counts("meson", meson, 1)["failed"]) == (4, 1)
    automake = "# TOTAL: 5\n# PASS:  3\n# SKIP:  0\n# XFAIL: 0\n# FAIL:  1\n# XPASS: 0\n# ERROR: 1\n"
    counts = parse_test_counts("autotools", automake, 2)
    assert (counts["passed"], counts["failed"]) == (3, 2)
    assert parse_test_counts("make", "nothing to parse", 0) == {"passed": 1, "failed": 0, "source": "exit code"}


def test_make_repo_builds_and_tests_locally(tmp_path):
    exp = experiment(tmp_path)
    good = build_repo("c_ok", c_repo(tmp_path / "ok"), exp, BuildOptions(backend="local", timeout_per_task=120))
    assert good.status == "success" and good.language == "c" and good.build_system == "make"
    assert isinstance(good.oracle, OracleResult) and good.oracle.built is True
    assert (good.oracle.passed, good.oracle.failed, good.oracle.source) == (2, 0, "tap")
    assert good.failure is None
    saved = json.loads(exp.build_result_path("c_ok").read_text())
    assert saved["oracle"]["built"] is True and saved["oracle"]["test_exit"] == 0  # the keys C results always had
    assert exp.build_result("c_ok") == good
    bad = build_repo("c_bad", c_repo(tmp_path / "bad", expected="3"), exp,
                     BuildOptions(backend="local", timeout_per_task=120))
    assert bad.status == "partial" and bad.oracle.pass_ratio == 0.5
    assert bad.failure.cls == "TestsFailed" and "not ok 2" in bad.failure.message
    assert bad.oracle.pytest_exit not in (None, 0)


def test_c_build_failure_is_reported(tmp_path):
    repo = tmp_path / "broken"
    make_git_repo(repo, {"Makefile": "all:\n\t$(CC) -c broken.c\n", "broken.c": "int f( {\n"})
    r = build_repo("c_broken", repo, experiment(tmp_path), BuildOptions(backend="local", timeout_per_task=120))
    assert r.status == "failed" and r.oracle.built is False and not r.oracle.tests_run
    assert r.failure.cls == "BuildFailed"
