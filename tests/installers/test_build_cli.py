"""`r2e build` end to end (local backend): summary, per-repo files, resuming, --force, exit codes, bad input."""

from __future__ import annotations

import json

from tests.installers.fixtures import REPOS


def setup_exp(cli, git_repo_factory, names, exp="b1"):
    args = []
    for name in names:
        url, _, _ = git_repo_factory("fx", name, REPOS[name])
        args += ["-r", url]
    res = cli("setup", "-e", exp, *args)
    assert res.exit_code == 0, res.output


def test_build_writes_results_resumes_and_forces(cli, git_repo_factory, r2e_home):
    setup_exp(cli, git_repo_factory, ["broken_file", "failing", "python2"])
    res = cli("build", "-e", "b1", "--backend", "local", "-j", "2")
    assert res.exit_code == 1, res.output  # the python2 repo counts as not installed
    summary = json.loads((r2e_home / "experiments" / "b1" / "build.json").read_text())
    assert summary["counts"] == {"success": 1, "partial": 1, "python2": 1}
    assert summary["total"] == 3 and summary["success_rate"] == round(1 / 3, 4)
    for repo_id in summary["repos"]:
        d = r2e_home / "experiments" / "b1" / "build" / repo_id
        assert (d / "result.json").exists() and (d / "install.log").exists() and (d / "plan.json").exists()
    ok_id = next(k for k, v in summary["repos"].items() if v["status"] == "success")
    stamp = json.loads((r2e_home / "experiments" / "b1" / "build" / ok_id / "result.json").read_text())["finished"]

    again = cli("build", "-e", "b1", "--backend", "local", "--only", ok_id)
    assert again.exit_code == 0 and "already built" in again.output
    assert json.loads((r2e_home / "experiments" / "b1" / "build" / ok_id / "result.json").read_text())["finished"] == stamp

    forced = cli("build", "-e", "b1", "--backend", "local", "--only", ok_id, "--force")
    assert forced.exit_code == 0, forced.output
    assert f"{ok_id}: success" in forced.output


def test_bad_inputs_are_one_line_errors(cli, git_repo_factory):
    res = cli("build", "-e", "nope", "--backend", "local")
    assert res.exit_code == 1 and "experiment 'nope' not found" in res.output
    setup_exp(cli, git_repo_factory, ["no_tests"], exp="b2")
    res = cli("build", "-e", "b2", "--python", "2.5")
    assert res.exit_code == 2 and "--python '2.5'" in res.output
    res = cli("build", "-e", "b2", "--backend", "local", "--min-pass-ratio", "1.5")
    assert res.exit_code == 2 and "--min-pass-ratio" in res.output
    res = cli("build", "-e", "b2", "--backend", "local", "--only", "ghost")
    assert res.exit_code == 1 and "'ghost'" in res.output


def test_disk_guard_and_many_workers_warning(cli, git_repo_factory, r2e_home):
    setup_exp(cli, git_repo_factory, ["no_tests"], exp="b3")
    res = cli("build", "-e", "b3", "--backend", "local", "-j", "32", "--min-free-gb", "1000000")
    assert res.exit_code == 1
    assert "above 20 the Docker engine's connection pool" in res.output
    assert "not started: free disk below" in res.output
    assert not list((r2e_home / "experiments" / "b3" / "build").glob("*/result.json"))  # nothing recorded: resumable
    res = cli("build", "-e", "b3", "--backend", "local", "-j", "32")
    assert res.exit_code == 0, res.output


def test_build_base_rejects_unknown_python(cli):
    res = cli("images", "build-base", "--python", "2.7")
    assert res.exit_code == 2 and "no base image recipe for Python 2.7" in res.output


def test_docker_backend_without_engine_is_one_line(cli, git_repo_factory, monkeypatch):
    setup_exp(cli, git_repo_factory, ["no_tests"], exp="b4")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    res = cli("build", "-e", "b4")
    assert res.exit_code == 1 and "Docker Engine not reachable" in res.output and "--backend local" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_corrupt_manifest_is_one_line_and_nothing_is_built(cli, r2e_home):
    path = r2e_home / "experiments" / "bm" / "manifest.json"
    path.parent.mkdir(parents=True)
    path.write_text("not json\n")
    res = cli("build", "-e", "bm", "--backend", "local")
    assert res.exit_code == 1 and len(res.output.strip().splitlines()) == 1, res.output
    assert ("not valid JSON" in res.output or "not a valid manifest" in res.output) and str(path) in res.output
    assert sorted(p.name for p in path.parent.iterdir()) == ["manifest.json"]


def test_unreadable_build_summary_is_replaced(cli, git_repo_factory, r2e_home):
    setup_exp(cli, git_repo_factory, ["no_tests"], exp="b5")
    summary = r2e_home / "experiments" / "b5" / "build.json"
    summary.write_text("{broken")
    res = cli("build", "-e", "b5", "--backend", "local")
    assert res.exit_code == 0, res.output
    assert "build.json: not valid JSON" in res.output and "writing a new one" in res.output
    assert json.loads(summary.read_text())["counts"] == {"no_tests": 1}
