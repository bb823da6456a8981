"""Attack repositories that point the host-side install plan and import scan at host files.

Each repository is made at test time next to a host file holding a canary; the canary must appear
nowhere in the plan (what becomes plan.json and the install commands), and the refusal must be recorded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from installers.declared import read_declared
from installers.plan import make_plan
from installers.scan import scan_repo

CANARY = "canarypkg-7f3a9"


@pytest.fixture
def host(tmp_path) -> Path:
    """A folder OUTSIDE the repository holding host files with the canary in them."""
    h = tmp_path / "host"
    h.mkdir()
    (h / "secret.txt").write_text(f"{CANARY}==1.0\n")
    (h / "outside.txt").write_text(f"{CANARY}-two\n")
    (h / "secret.py").write_text(f"import {CANARY.replace('-', '_')}\n")
    (h / "pkgdir").mkdir()
    (h / "pkgdir" / "__init__.py").write_text(f"import {CANARY.replace('-', '_')}_dir\n")
    (h / "pyproject.toml").write_text(f'[project]\nname = "x"\ndependencies = ["{CANARY}-toml"]\n')
    return h


def make_repo(tmp_path: Path, files: dict[str, str], links: dict[str, Path] | None = None) -> Path:
    repo = tmp_path / "work" / "repo"
    repo.mkdir(parents=True)
    for rel, text in files.items():
        p = repo / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for rel, target in (links or {}).items():
        p = repo / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, p)
    return repo


def plan_text(repo: Path) -> tuple[str, dict]:
    plan = make_plan(repo)
    data = plan.to_dict()
    # what plan.json holds and what the install steps send to the index
    text = json.dumps(data) + "\n".join(" ".join(g) for g in plan.requirement_groups())
    text += " ".join(plan.all_requirements()) + " ".join(plan.optional.values())
    return text, data


def assert_refused(data: dict, *fragments: str) -> None:
    assert data["refused"], data
    joined = "\n".join(data["refused"])
    for frag in fragments:
        assert frag in joined, joined


def test_symlinked_requirements_file_is_not_read(tmp_path, host):
    repo = make_repo(tmp_path, {"mod.py": "X = 1\n"}, {"requirements.txt": host / "secret.txt"})
    text, data = plan_text(repo)
    assert "canarypkg" not in text
    assert_refused(data, "requirements.txt", "outside the repository")


def test_absolute_include_outside_is_refused(tmp_path, host):
    repo = make_repo(tmp_path, {"requirements.txt": f"requests\n-r {host / 'outside.txt'}\n-c {host / 'secret.txt'}\n"})
    text, data = plan_text(repo)
    assert "canarypkg" not in text
    assert "requests" in data["requirements"]
    assert_refused(data, f"-r {host / 'outside.txt'}", f"-c {host / 'secret.txt'}")


def test_relative_include_climbing_out_is_refused(tmp_path, host):
    # work/repo/requirements.txt -> ../../host/outside.txt
    repo = make_repo(tmp_path, {"requirements.txt": "-r ../../host/outside.txt\n--requirement=../../host/secret.txt\n",
                                "requirements/base.txt": "-r ../../../host/outside.txt\nclick\n"})
    text, data = plan_text(repo)
    assert "canarypkg" not in text
    assert "click" in data["requirements"]
    assert_refused(data, "-r ../../host/outside.txt", "-r ../../../host/outside.txt")


def test_include_missing_outside_is_still_refused(tmp_path):
    repo = make_repo(tmp_path, {"requirements.txt": "-r /nonexistent-r2e/x.txt\nflask\n"})
    _, data = plan_text(repo)
    assert_refused(data, "-r /nonexistent-r2e/x.txt")


def test_editable_and_direct_file_references_outside(tmp_path, host):
    repo = make_repo(tmp_path, {"requirements.txt": f"-e file:{host}\n-e {host}/pkgdir\n-e .\n"
                                                    f"{CANARY}-ref @ file://{host}/secret.txt\nsix\n"})
    text, data = plan_text(repo)
    assert "canarypkg" not in text and str(host) not in json.dumps(data["requirements"])
    assert data["requirements"] == ["six"]
    assert_refused(data, f"-e file:{host}", f"-e {host}/pkgdir")
    assert not any(": -e .:" in r for r in data["refused"])  # the repository itself is inside


def test_include_chain_through_inside_symlink_is_followed(tmp_path):
    # a symlink that stays inside the repository is an ordinary file
    repo = make_repo(tmp_path, {"reqs/real.txt": "attrs\n"}, {"requirements.txt": Path("reqs/real.txt")})
    _, data = plan_text(repo)
    assert data["requirements"] == ["attrs"] and data["refused"] == []


@pytest.mark.parametrize("name", ["pyproject.toml", "setup.cfg", "setup.py", "Pipfile", "environment.yml",
                                  "tox.ini", "pytest.ini"])
def test_every_packaging_file_symlinked_outside_is_refused(tmp_path, host, name):
    target = host / ("pyproject.toml" if name == "pyproject.toml" else "secret.txt")
    repo = make_repo(tmp_path, {"mod.py": "X = 1\n"}, {name: target})
    text, data = plan_text(repo)
    assert "canarypkg" not in text
    assert_refused(data, name)
    d = read_declared(repo)
    assert name == "pytest.ini" or any(name in r for r in d.refused)


def test_requirements_folder_symlinked_outside_is_not_listed(tmp_path, host):
    repo = make_repo(tmp_path, {"mod.py": "X = 1\n"}, {"requirements": host})
    text, data = plan_text(repo)
    assert "canarypkg" not in text and "outside.txt" not in text  # not even the host folder's file names
    assert_refused(data, "requirements")


def test_scan_does_not_follow_symlinks_outside(tmp_path, host):
    repo = make_repo(tmp_path, {"pkg/__init__.py": "import yaml\n", "tests/test_a.py": "def test_a():\n    pass\n"},
                     {"pkg/stolen.py": host / "secret.py", "hostpkg": host / "pkgdir", "src": host,
                      "tests/conftest.py": host / "secret.py", "tests/test_b.py": host / "secret.py"})
    scan = scan_repo(repo)
    assert not any("canarypkg" in name for name in scan.imports)
    assert "hostpkg" not in scan.top_level and "pkgdir" not in scan.top_level
    assert "canarypkg" not in scan.conftest_text
    text, data = plan_text(repo)
    assert "canarypkg" not in text and "yaml" in data["inferred"]
    assert_refused(data, "pkg/stolen.py", "tests/conftest.py")


def test_symlink_loop_is_a_refusal_not_a_crash(tmp_path):
    repo = make_repo(tmp_path, {"mod.py": "X = 1\n"})
    os.symlink("requirements.txt", repo / "requirements.txt")
    os.symlink("b.py", repo / "a.py")
    os.symlink("a.py", repo / "b.py")
    _, data = plan_text(repo)
    assert_refused(data, "requirements.txt")


def test_fifo_requirements_file_does_not_hang(tmp_path):
    repo = make_repo(tmp_path, {"mod.py": "X = 1\n"})
    os.mkfifo(repo / "requirements.txt")
    _, data = plan_text(repo)  # returns: a FIFO is never opened
    assert data["requirements"] == []


def test_local_build_records_nothing_from_the_host(tmp_path, host):
    """End to end on the local backend (no index needed: nothing to install): plan.json, install.log,
    result.json and the install script hold no canary, and plan.json records the refusals."""
    from installers.build import build_repo
    from installers.options import BuildOptions
    from tests.conftest import make_git_repo
    from tests.installers.fixtures import experiment

    repo = tmp_path / "work" / "repo"
    make_git_repo(repo, {"mod.py": "X = 1\n", "requirements-extra.txt": f"-r {host / 'outside.txt'}\n"})
    os.symlink(host / "secret.txt", repo / "requirements.txt")
    exp = experiment(tmp_path)
    result = build_repo("hostile", repo, exp, BuildOptions(backend="local", timeout_per_task=120))
    files = exp.build_files("hostile")
    written = "".join(p.read_text(errors="replace") for p in files.result.parent.rglob("*")
                      if p.is_file() and "venv" not in p.parts and "checkout" not in p.parts)  # the repo copy itself
    assert files.plan.is_file() and files.install_log.is_file() and files.result.is_file()
    assert "canarypkg" not in written and "canarypkg" not in "\n".join(result.install_script)
    refused = json.loads(files.plan.read_text())["refused"]
    assert any(r.startswith("requirements.txt:") for r in refused)
    assert any(f"-r {host / 'outside.txt'}" in r for r in refused)
