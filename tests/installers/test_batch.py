"""The standalone batch installer as a real process: setup + build of a URL-list segment, resumable."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import PROJECT_ROOT
from tests.installers.fixtures import REPOS


def run_batch(*args, home):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "R2E_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "installers.batch", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def test_batch_segment_setup_build_and_resume(tmp_path, git_repo_factory):
    names = ["no_tests", "broken_file", "failing", "python2"]
    urls = [git_repo_factory("bt", n, REPOS[n])[0] for n in names]
    urls_file = tmp_path / "urls.txt"
    urls_file.write_text("\n".join(urls) + "\n")
    home = tmp_path / "home"
    res = run_batch(str(urls_file), "--start", "1", "--end", "3", "--workers", "2", "--backend", "local",
                    "--segment-size", "1", home=home)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("== segment") == 2
    summary = json.loads((home / "experiments" / "batch" / "build.json").read_text())
    assert sorted(summary["repos"]) == ["bt__broken_file", "bt__failing"]  # only the segment, both segments merged
    assert summary["counts"] == {"success": 1, "partial": 1}

    again = run_batch(str(urls_file), "--start", "1", "--end", "4", "--backend", "local", home=home)
    assert again.returncode == 1  # the python2 repo is not installed
    assert "2 repo(s) already built" in again.stdout
    assert json.loads((home / "experiments" / "batch" / "build.json").read_text())["counts"]["python2"] == 1

    bad = run_batch(str(urls_file), "--start", "9", home=home)
    assert bad.returncode == 2 and "empty segment" in bad.stderr
