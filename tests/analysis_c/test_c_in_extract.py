"""`r2e extract` on a mixed Python/C repository: C functions come out of the same command and file."""

import json
import shutil
import subprocess

import pytest

from tests.conftest import make_git_repo

C_HEADER = "#ifndef UTIL_H\n#define UTIL_H\n#define SCALE 3\nint scaled(int x);\n#endif\n"
C_SOURCE = """#include <stdlib.h>
#include "util.h"

/* Multiply x by the scale factor, clamping negatives to zero. */
int scaled(int x)
{
    if (x < 0)
        return 0;
    return x * SCALE;
}

/* Sum the scaled values of an array of n integers. */
int scaled_sum(const int *xs, int n)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += scaled(xs[i]);
    return total;
}
"""
PY_SOURCE = '''def double(x):
    """Return twice x."""
    if x is None:
        return 0
    return 2 * x
'''


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc) on this machine")
def test_extract_handles_python_and_c_together(cli, r2e_home, tmp_path):
    repo = tmp_path / "mixed"
    make_git_repo(repo, {"src/util.h": C_HEADER, "src/util.c": C_SOURCE, "py/mod.py": PY_SOURCE})
    assert cli("setup", "-e", "mix", "-l", str(repo)).exit_code == 0
    r = cli("extract", "-e", "mix")
    assert r.exit_code == 0, r.output
    records = [json.loads(x) for x in (r2e_home / "experiments" / "mix" / "extracted.jsonl").read_text().splitlines()]
    by_id = {x["id"]: x for x in records}
    assert {x["lang"] for x in records} == {"python", "c"}
    target = by_id["local__mixed/src/util.c::scaled_sum"]
    assert target["callees"] == ["local__mixed/src/util.c::scaled"]
    assert "Sum the scaled values" in target["docstring"]
    slice_file = tmp_path / "slice.c"
    slice_file.write_text(target["context"])
    cc = subprocess.run(["cc", "-fsyntax-only", "-std=gnu11", str(slice_file)], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
