"""The docker backend against the real engine: exec, timeouts, copies, limits, cleanup, builds, image reuse."""

from __future__ import annotations

import time

import pytest

from installers.build import build_repo
from installers.docker_env import DockerEnvironment, sweep
from installers.images import LABEL
from installers.local_env import LocalEnvironment
from installers.options import BuildOptions
from tests.conftest import make_git_repo
from tests.installers.fixtures import REPOS, experiment

pytestmark = pytest.mark.docker


def test_exec_copy_limits_and_cleanup(docker_client, docker_base, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-in-containers")
    env = DockerEnvironment(docker_base, client=docker_client, name_hint="basics")
    cid = env.container.id
    try:
        r = env.execute("echo hi; pwd; exit 3")
        assert (r.exit_code, r.output.split()) == (3, ["hi", "/testbed"])
        assert "sk-never" not in env.execute("env").output
        assert env.execute("uv --version").ok and "3.11" in env.execute("python3 --version").output

        start = time.monotonic()
        r = env.execute("sleep 1000 & sleep 1000", timeout=2)
        assert r.timed_out and r.exit_code == -1 and time.monotonic() - start < 15
        left = env.execute("for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c 'slee[p] 1000'")
        assert left.output.strip() == "0"  # the whole process group was killed

        src = tmp_path / "src"
        (src / "sub").mkdir(parents=True)
        (src / "sub" / "a.txt").write_text("payload\n")
        (src / ".venv").mkdir()
        (src / ".venv" / "junk").write_text("x")
        env.copy_to(src, "/data", exclude={".venv"})
        assert env.execute("cat /data/sub/a.txt; ls -A /data").output.split() == ["payload", "sub"]
        env.copy_from("/data/sub/a.txt", tmp_path / "back.txt")
        assert (tmp_path / "back.txt").read_text() == "payload\n"

        attrs = docker_client.api.inspect_container(cid)
        host = attrs["HostConfig"]
        assert attrs["Config"]["Labels"][LABEL] == "1" and float(attrs["Config"]["Labels"]["r2e.expires"]) > time.time()
        assert host["Privileged"] is False and host["Memory"] > 0 and host["PidsLimit"] > 0 and host["NanoCpus"] > 0
        assert attrs["Config"]["Cmd"][0] == "sleep"
        assert all(m["RW"] is False for m in attrs["Mounts"])  # only read-only inputs
    finally:
        env.close()
        env.close()
    assert not docker_client.containers.list(all=True, filters={"id": cid})


def test_sweeper_removes_expired_containers(docker_client, docker_base):
    env = DockerEnvironment(docker_base, client=docker_client, lifetime=2, name_hint="expiring")
    cid = env.container.id
    env.container = None  # forgotten, as by a crashed run
    time.sleep(3)
    assert sweep(docker_client) >= 1
    assert not docker_client.containers.list(all=True, filters={"id": cid})


def test_only_docker_environments_can_be_committed(docker_client, docker_base, tmp_path):
    local = LocalEnvironment(tmp_path)
    assert not local.supports_commit
    with pytest.raises(NotImplementedError):
        local.commit("r2e-never", "x")
    with DockerEnvironment(docker_base, client=docker_client, name_hint="commit") as env:
        assert env.supports_commit


def test_docker_build_commits_image_by_plan_hash_and_reuses_it(docker_client, docker_base, tmp_path):
    repo = tmp_path / "declared"
    make_git_repo(repo, REPOS["declared"])
    opts = BuildOptions(backend="docker", base_minimal=True, timeout_per_task=600, docker_client=docker_client,
                        commit="c1")
    exp = experiment(tmp_path)
    files = exp.build_files("fx__declared")
    first = build_repo("fx__declared", repo, exp, opts)
    image = first.image
    try:
        assert first.status == "success", (first.failure, files.install_log.read_text()[-3000:])
        assert first.oracle.passed == 2 and first.venv == "/testbed/.venv"
        assert image.startswith("r2e-repo-fx__declared:") and docker_client.images.get(image)
        dockerfile = files.dockerfile.read_text()
        assert dockerfile.startswith("#") and f"FROM {docker_base}" in dockerfile and "PyYAML" in dockerfile
        assert not docker_client.containers.list(all=True, filters={"name": "r2e-fx__declared"})

        again = build_repo("fx__declared", repo, exp, opts)
        assert again.status == "success" and again.image == image
        assert "reusing image" in files.install_log.read_text()

        changed = opts.for_commit("c2")
        assert build_repo("fx__declared", repo, experiment(tmp_path, "b2"), changed).image != image
    finally:
        for img in docker_client.images.list(name="r2e-repo-fx__declared"):
            for tag in img.tags:
                docker_client.images.remove(tag, force=True)


def test_wheelhouse_build_in_a_container_without_network(docker_client, docker_base, tmp_path):
    repo = tmp_path / "declared"
    make_git_repo(repo, REPOS["declared"])
    opts = BuildOptions(backend="docker", base_minimal=True, timeout_per_task=600, docker_client=docker_client,
                        wheelhouse=tmp_path / "wheels", network=False, commit="wheelhouse-test")
    exp = experiment(tmp_path)
    result = build_repo("fx__offline", repo, exp, opts)
    try:
        log = exp.install_log_path("fx__offline").read_text()
        assert result.status == "success", (result.failure, log[-3000:])
        assert "--no-index --find-links /wheelhouse" in log
        wheels = {p.name.split("-")[0].lower() for p in (tmp_path / "wheels" / "py3.11").glob("*.whl")}
        assert {"pyyaml", "six", "pytest"} <= wheels
    finally:
        if result.image:
            docker_client.images.remove(result.image, force=True)


def test_images_commands(cli, docker_client, docker_base):
    listed = cli("images", "list")
    assert listed.exit_code == 0 and docker_base in listed.output
    swept = cli("images", "sweep")
    assert swept.exit_code == 0 and swept.output.startswith("removed ")
    exists = cli("images", "build-base", "--python", "3.11", "--minimal")
    assert exists.exit_code == 0 and "exists" in exists.output


def test_environment_of_record_from_a_docker_result(docker_client, docker_base, tmp_path):
    from installers.environment_of_record import open_environment

    repo = tmp_path / "nt"
    make_git_repo(repo, REPOS["broken_file"])
    opts = BuildOptions(backend="docker", base_minimal=True, timeout_per_task=600, docker_client=docker_client)
    exp = experiment(tmp_path)
    result = build_repo("fx__record", repo, exp, opts)
    try:
        assert result.status == "success"
        with open_environment(exp.build_result("fx__record"), client=docker_client) as env:
            out = env.execute("python -c 'import tool; print(tool.add(40, 2))'")
            assert out.output.strip() == "42" and env.workdir == "/testbed"
    finally:
        docker_client.images.remove(result.image, force=True)


def test_image_of_record_runs_its_eval_script_with_a_plain_docker_run(docker_client, docker_base, tmp_path):
    """The maintainers' command (project addopts kept, its plugin installed) is /run_tests.sh in an image
    that `docker run --rm IMAGE` starts as is; after an eval, /testbed's git status is clean."""
    import io
    import subprocess
    import tarfile

    from installers.test_results import result_marker
    from tests.installers.test_eval_build import STRESS

    repo = tmp_path / "stressy"
    make_git_repo(repo, STRESS)
    opts = BuildOptions(backend="docker", base_minimal=True, timeout_per_task=600, docker_client=docker_client,
                        commit="eval-of-record")
    exp = experiment(tmp_path)
    files = exp.build_files("fx__eor")
    result = build_repo("fx__eor", repo, exp, opts)
    try:
        assert result.status == "success", (result.failure, files.install_log.read_text()[-3000:])
        assert result.tests == {"tests/test_stressy.py::test_add": "PASSED"}
        assert result.eval_script_path == "/run_tests.sh" and files.run_tests.read_text() == result.eval_script
        config = docker_client.images.get(result.image).attrs["Config"]
        assert not config.get("Volumes") and not config["Labels"].get("r2e.expires")
        dockerfile = files.dockerfile.read_text()
        assert "COPY .r2e/run_tests.sh /run_tests.sh" in dockerfile and "/.git/info/exclude" in dockerfile
        assert (files.sandbox / "r2e_pytest_report.py").is_file()

        plain = subprocess.run(["docker", "run", "--rm", result.image, "bash", "-lc", "cd /testbed && bash /run_tests.sh"],
                               capture_output=True, text=True, timeout=300)
        assert plain.returncode == 0, plain.stdout[-3000:] + plain.stderr[-3000:]
        assert result_marker(plain.stdout)["report_written"] is True and "1 passed, 1 deselected" in plain.stdout

        # The minimal base has no git: /testbed after an eval is streamed out and read by the host's git.
        after = subprocess.run(["docker", "run", "--rm", result.image, "bash", "-lc",
                                "cd /testbed && bash /run_tests.sh >/dev/null 2>&1; sync; tar -C /testbed -cf - . || true"],
                               capture_output=True, timeout=300)
        assert after.returncode == 0 and after.stdout, after.stderr[-3000:]  # (tar may warn of overlayfs mtimes)
        with tarfile.open(fileobj=io.BytesIO(after.stdout)) as tar:
            tar.extractall(tmp_path / "after")
        assert (tmp_path / "after" / ".venv").is_dir()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path / "after",
                                capture_output=True, text=True, check=True)
        assert status.stdout == ""
    finally:
        if result.image:
            docker_client.images.remove(result.image, force=True)
