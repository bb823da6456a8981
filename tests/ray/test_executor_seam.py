"""The executor seam and the cluster build's pieces that need no cluster: the local executor,
shipping options, registry names, container names, writing a node's files back, one-line errors."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import pytest

from installers.build_many import BuildItem
from installers.options import BuildOptions
from installers.remote_build import (BuildUnit, RemoteBuilds, collect_files, container_prefix, container_memory,
                                     git_bundle, node_options, parse_bytes, push_image, pull_image, registry_ref,
                                     remove_containers, shippable, unbundle)
from r2e.executor import LocalExecutor, make_executor, placement
from r2e.experiment import StageFileError
from r2e.stage_records import BuildResult
from tests.conftest import make_git_repo
from tests.installers.fixtures import experiment


def test_local_executor_is_the_pool_with_payloads_and_placement():
    seen = []
    ex = make_executor("local", workers=2)
    ok, failed = ex.map(lambda x: (x, placement().attempt), [1, 2, 3], prepare=lambda i: i * 10,
                        on_done=lambda item, res, err: seen.append(item))
    assert sorted(r for _, r in ok) == [(10, 1), (20, 1), (30, 1)] and not failed and sorted(seen) == [1, 2, 3]
    ok, failed = ex.map(lambda x: 1 / x, [0])
    assert not ok and isinstance(failed[0].error, ZeroDivisionError)
    assert ex.on_each_node(lambda a: a + 1, 1) == {"local": 2}
    assert isinstance(LocalExecutor(), LocalExecutor)


def test_unknown_executor_and_missing_ray_are_one_line(monkeypatch, cli, git_repo_factory):
    with pytest.raises(Exception, match="unknown executor 'k8s'"):
        make_executor("k8s")
    url, _, _ = git_repo_factory("fx", "p", {"p/__init__.py": "X = 1\n"})
    assert cli("setup", "-e", "noray", "-r", url).exit_code == 0
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    res = cli("build", "-e", "noray", "--backend", "local", "--executor", "ray")
    assert res.exit_code == 2 and "pip install 'r2e[ray]'" in res.output
    assert len(res.output.strip().splitlines()) == 1
    res = cli("build", "-e", "noray", "--backend", "local", "--executor", "ray", "--registry", "no-port")
    assert res.exit_code == 2 and "invalid --registry 'no-port'" in res.output


def test_registry_names_and_push_pull_tagging():
    assert registry_ref("r2e-repo-a__b:0123abcd", "reg.local:5000") == ("reg.local:5000/r2e-repo-a__b", "0123abcd")
    assert registry_ref("plain", "h:1/") == ("h:1/plain", "latest")
    client = FakeClient()
    assert push_image(client, "r2e-repo-x:ff", "h:5000") == "h:5000/r2e-repo-x:ff"
    assert client.log == [("tag", "r2e-repo-x:ff", "h:5000/r2e-repo-x", "ff"), ("push", "h:5000/r2e-repo-x", "ff")]
    client.log.clear()
    assert pull_image(client, "r2e-repo-x:ff", "h:5000")
    assert client.log == [("pull", "h:5000/r2e-repo-x", "ff"), ("tag", "pulled", "r2e-repo-x", "ff")]
    client.push_error = "denied"
    with pytest.raises(Exception, match="denied"):
        push_image(client, "r2e-repo-x:ff", "h:5000")


def test_build_task_reserves_the_container_memory():
    assert parse_bytes("4g") == 4 * 2**30 and parse_bytes("512m") == 512 * 2**20 and parse_bytes("100") == 100
    assert container_memory() == 4 * 2**30


def test_units_ship_no_client_no_key_and_unpack_on_a_node(tmp_path, monkeypatch):
    from r2e.llm.config import LLMConfig

    monkeypatch.setenv("SHIP_MODELVAR", "sk-secret-value-123456")
    opts = BuildOptions(backend="local", docker_client=object(), notify=print, wheelhouse=tmp_path / "wh",
                        llm=LLMConfig(model="m", api_key_env="SHIP_MODELVAR", cache_path=tmp_path / "c.sqlite3"))
    shipped, llm = shippable(opts)
    assert shipped.docker_client is None and shipped.notify is None and shipped.llm is None
    assert llm["api_key_env"] == "SHIP_MODELVAR" and "sk-secret" not in repr(llm) and "breaker" not in llm
    repo = tmp_path / "repo"
    sha = make_git_repo(repo, {"a/__init__.py": "X = 1\n"})
    unit = BuildUnit("e", "o__r", sha, git_bundle(repo), shipped, llm, "run1", registry=None)
    import pickle

    unit = pickle.loads(pickle.dumps(unit))  # what Ray does to it
    monkeypatch.setattr("installers.local_env._HIDDEN_NAMES", set())  # a fresh node process
    node = node_options(unit)
    from installers.local_env import scrubbed_environ

    assert "SHIP_MODELVAR" not in scrubbed_environ()
    assert node.llm.model == "m" and node.llm.cache_path != tmp_path / "c.sqlite3"
    assert node.wheelhouse != tmp_path / "wh"
    unbundle(unit.bundle, tmp_path / "node" / "o__r")
    assert (tmp_path / "node" / "o__r" / "a" / "__init__.py").read_text() == "X = 1\n"
    with pytest.raises(Exception, match="cannot bundle"):
        git_bundle(tmp_path / "node" / "nothing-here")


def test_write_back_files_then_result_and_skip_unfinished(tmp_path):
    exp = experiment(tmp_path)
    remote = RemoteBuilds(exp, BuildOptions(backend="local"))
    build = tmp_path / "nodebuild"
    (build / "venv").mkdir(parents=True)
    (build / "install.log").write_text("log\n")
    (build / "plan.json").write_text("{}")
    (build / "result.json").write_text("{}")
    files = collect_files(build)
    assert sorted(files) == ["install.log", "plan.json"]  # result.json is the record, venv stays on the node
    res = BuildResult("o__r", "success", backend="local", extra={"node": "10.0.0.2/abcd", "attempts": 2})
    remote.write_back({"result": res.to_dict(), "files": files})
    assert exp.build_result("o__r").extra["attempts"] == 2
    assert exp.install_log_path("o__r").read_text() == "log\n"
    cancelled = BuildResult("o__s", "cancelled", backend="local")
    remote.write_back({"result": cancelled.to_dict(), "files": files})
    assert not exp.build_result_path("o__s").exists()  # no verdict: it builds again next time
    with pytest.raises(StageFileError):
        exp.write_build_files("o__r", {"../escape": b"x"})


def test_rebuilds_prefer_the_node_holding_the_image(tmp_path):
    exp = experiment(tmp_path)
    for repo, image, node in [("a", "r2e-repo-a:1", "n-old"), ("b", "r2e-repo-b:2", "n-old"), ("c", None, None)]:
        exp.write_build_result(BuildResult(repo, "success", image=image, extra={"node_id": node} if node else {}))

    class Cluster:
        def on_each_node(self, fn, *args):
            return {"10.0.0.1/n1": {"node_id": "n1", "images": ["r2e-repo-a:1"]}, "10.0.0.2/n2": "Error: down"}

    remote = RemoteBuilds(exp, BuildOptions(backend="docker"))
    items = [BuildItem(r, tmp_path / r) for r in ("a", "b", "c", "new")]
    remote.locate(items, Cluster())
    # the engine that holds the image wins over the node that built it; unknown repos go anywhere
    assert [remote.hint(it) for it in items] == ["n1", "n-old", None, None]


def test_remove_containers_only_touches_the_runs_repos():
    client = FakeClient()
    client.containers_list = [FakeContainer(container_prefix("own/er__repo") + "1234abcd"),
                              FakeContainer(container_prefix("other__repo") + "1234abcd")]
    assert remove_containers(["own/er__repo"], client=client) == 1
    assert [c.removed for c in client.containers_list] == [True, False]


@pytest.mark.docker
def test_container_names_match_the_docker_environment(docker_client, docker_base):
    from installers.docker_env import DockerEnvironment

    mine = DockerEnvironment(docker_base, client=docker_client, name_hint="fx__ray-cleanup")
    other = DockerEnvironment(docker_base, client=docker_client, name_hint="fx__ray-keep")
    try:
        assert remove_containers(["fx__ray-cleanup"]) == 1
        names = {c.name for c in docker_client.containers.list(all=True)}
        assert mine.container.name not in names and other.container.name in names
    finally:
        mine.close()
        other.close()


# ---------------------------------------------------------------------------------------- fakes
@dataclass
class FakeContainer:
    name: str
    removed: bool = False

    def remove(self, force=False):
        self.removed = True


@dataclass
class FakeImage:
    name: str
    client: "FakeClient"

    def tag(self, repository, tag):
        self.client.log.append(("tag", self.name, repository, tag))


@dataclass
class FakeClient:
    log: list = field(default_factory=list)
    push_error: str | None = None
    containers_list: list = field(default_factory=list)

    @property
    def images(self):
        return self

    @property
    def containers(self):
        return self

    def list(self, all=False, filters=None):
        return self.containers_list

    def get(self, name):
        return FakeImage(name, self)

    def push(self, repository, tag=None, stream=False, decode=False):
        self.log.append(("push", repository, tag))
        return iter([{"status": "Pushed"}] + ([{"error": self.push_error}] if self.push_error else []))

    def pull(self, repository, tag=None):
        self.log.append(("pull", repository, tag))
        return FakeImage("pulled", self)


def test_an_address_that_takes_no_connections_is_one_line_at_once():
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'r2e[ray]')")
    from r2e.executor import RayExecutor, unreachable

    assert unreachable("auto") is None and unreachable("ray://h:1") is None
    with pytest.raises(Exception, match=r"no Ray cluster at '127.0.0.1:1' \(Connection refused\)"):
        RayExecutor("127.0.0.1:1").connect()
