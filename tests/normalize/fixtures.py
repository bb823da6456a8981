"""Five outside instances over tiny repositories, each a Dockerfile FROM an image that cannot be pulled here
(python:3.11-slim) with a `git clone` of its repository: what `r2e normalize` has to bring in."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, make_git_repo

# pytest's -rA summary lines, printed by a stand-in runner: the images carry no pytest.
RUNTESTS = '''\
import importlib.util, pathlib, sys
root = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(root))
for f in sorted((root / "tests").glob("test_*.py")):
    rel = f.relative_to(root).as_posix()
    spec = importlib.util.spec_from_file_location(f.stem, f)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except Exception as exc:
        print(f"ERROR {rel} - {exc!r}")
        continue
    for name in sorted(n for n in dir(mod) if n.startswith("test_")):
        try:
            getattr(mod, name)()
            print(f"PASSED {rel}::{name}")
        except Exception as exc:
            print(f"FAILED {rel}::{name} - {exc!r}")
'''
CALC_BUGGY = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
CALC_FIXED = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
TEST_SUB = "from calc import sub\n\n\ndef test_sub():\n    assert sub(3, 1) == 2\n"
TEST_ADD = "from calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n"
UNPULLABLE = "python:3.11-slim"
DEP_FIX = ("RUN mkdir -p /opt/deps && printf 'VALUE = 42\\n' > /opt/deps/tinydep.py\n"
           "ENV PYTHONPATH=/opt/deps\n")


def _diff(repo: Path, files: dict[str, str]) -> str:
    """The patch that writes `files` over the repository's HEAD (the repository is left at HEAD)."""
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "add", "--all")
    patch = git(repo, "diff", "--cached") + "\n"
    git(repo, "reset", "--quiet", "--hard", "HEAD")
    return patch


def _dockerfile(name: str, dest: str, extra: str = "", workdir: str = "/testbed") -> str:
    return (f"FROM {UNPULLABLE}\n"
            f"RUN git clone https://github.com/fx/{name}.git {dest} && cd {dest} && git checkout main\n"
            f"{extra}WORKDIR {workdir}\n")


def make_instances(root: Path) -> tuple[Path, Path]:
    """(repos folder, input JSON) for the five instances."""
    repos = root / "repos"
    out = []

    repo = repos / "nested"
    sha = make_git_repo(repo, {"calc.py": CALC_BUGGY, "runtests.py": RUNTESTS, "tests/test_basic.py": TEST_SUB})
    out.append({
        "instance_id": "fx__nested-1", "repo": "fx/nested", "base_commit": sha, "problem_statement": "Make the tests pass.",
        "dockerfile": _dockerfile("nested", "/testbed/pkg", workdir="/testbed/pkg"),
        "eval_script": "#!/bin/bash\ncd /testbed/pkg\npython runtests.py\n",
        "patch": _diff(repo, {"calc.py": CALC_FIXED}), "test_patch": _diff(repo, {"tests/test_add.py": TEST_ADD}),
        "FAIL_TO_PASS": json.dumps(["tests/test_add.py::test_add"]),
        "PASS_TO_PASS": json.dumps(["tests/test_basic.py::test_sub"]),
    })

    repo = repos / "fx__withvenv"  # the owner__name spelling of a copy
    sha = make_git_repo(repo, {"runtests.py": RUNTESTS, "tests/test_one.py":
                               "import pathlib\n\n\ndef test_one():\n"
                               "    pathlib.Path('/testbed/results.txt').write_text('ran')\n"})
    out.append({
        "instance_id": "fx__withvenv-2", "repo": "fx/withvenv", "base_commit": sha, "problem_statement": "Make the tests pass.",
        "dockerfile": _dockerfile("withvenv", "/testbed", "RUN python -m venv --without-pip /testbed/.venv\n"),
        "eval_script": "#!/bin/bash\ncd /testbed\n.venv/bin/python runtests.py\n",
    })

    repo = repos / "slow"
    sha = make_git_repo(repo, {"runtests.py": RUNTESTS, "tests/test_slow.py":
                               "import time\n\n\ndef test_slow():\n    time.sleep(30)\n"})
    out.append({
        "instance_id": "fx__slow-3", "repo": "fx/slow", "base_commit": sha, "problem_statement": "Make the tests pass.",
        "dockerfile": _dockerfile("slow", "/testbed"), "test_cmd": "python runtests.py",
    })

    repo = repos / "flaky"
    sha = make_git_repo(repo, {"runtests.py": RUNTESTS, "tests/test_f.py":
                               "import pathlib\n\n\ndef test_ok():\n    pass\n\n\n"
                               "def test_flaky():\n    seen = pathlib.Path('/tmp/flaky-seen')\n"
                               "    if not seen.exists():\n        seen.touch()\n        raise AssertionError('first run')\n"})
    out.append({
        "instance_id": "fx__flaky-4", "repo": "fx/flaky", "base_commit": sha, "problem_statement": "Make the tests pass.",
        "dockerfile": _dockerfile("flaky", "/testbed"),
        "eval_script": "#!/bin/bash\ncd /testbed\npython runtests.py\n",
        "PASS_TO_PASS": ["tests/test_f.py::test_flaky", "tests/test_f.py::test_ok"],
    })

    repo = repos / "needsdep"
    sha = make_git_repo(repo, {"calc.py": CALC_BUGGY, "runtests.py": RUNTESTS, "tests/test_dep.py":
                               "import tinydep\n\n\ndef test_value():\n    assert tinydep.VALUE == 42\n"})
    out.append({
        "instance_id": "fx__needsdep-5", "repo": "fx/needsdep", "base_commit": sha, "problem_statement": "Make the tests pass.",
        "dockerfile": _dockerfile("needsdep", "/testbed"),
        "eval_script": "#!/bin/bash\ncd /testbed\npython runtests.py\n",
        "patch": _diff(repo, {"calc.py": CALC_FIXED}), "test_patch": _diff(repo, {"tests/test_add.py": TEST_ADD}),
        "FAIL_TO_PASS": ["tests/test_add.py::test_add"], "PASS_TO_PASS": ["tests/test_dep.py::test_value"],
    })
    path = root / "instances.json"
    path.write_text(json.dumps(out, indent=1))
    return repos, path


def llm_fix(body: dict) -> str:
    """The scripted model: the missing module added to the Dockerfile it was shown (its own steps kept)."""
    prompt = body["messages"][-1]["content"]
    shown = prompt.split("```dockerfile\n", 1)[1].split("```", 1)[0]
    return "The module tinydep is missing.\n```dockerfile\n" + shown.rstrip("\n") + "\n" + DEP_FIX + "```\n"
