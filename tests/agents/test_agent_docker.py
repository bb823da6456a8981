"""The sandbox tools inside a real container, run by the image's own python3."""

from __future__ import annotations

import pytest

from harness.agents.sandbox import Sandbox


@pytest.mark.docker
def test_file_editor_and_search_run_inside_a_container(docker_base, tmp_path):
    from installers.docker_env import DockerEnvironment

    src = tmp_path / "mod.py"
    src.write_text("def f():\n    return 1\n")
    env = DockerEnvironment(docker_base, name_hint="agent-tools", network=False)
    try:
        env.copy_to(src, "/testbed/mod.py")
        sandbox = Sandbox(env)
        sandbox.install()
        assert sandbox.python.startswith("/usr/")  # the container's interpreter, not the host's
        out = sandbox.file_editor({"command": "str_replace", "path": "/testbed/mod.py",
                                   "old_str": "return 1", "new_str": "return 2"}).output
        assert "has been edited" in out
        assert env.execute("cat /testbed/mod.py").output == "def f():\n    return 2\n"
        assert "Found 1 matches" in sandbox.search({"search_term": "return 2", "path": "/testbed"}).output
        sandbox.file_editor({"command": "undo_edit", "path": "/testbed/mod.py"})
        assert env.execute("cat /testbed/mod.py").output == "def f():\n    return 1\n"
        created = sandbox.file_editor({"command": "create", "path": "/testbed/pkg/new.py", "file_text": "X = 1\n"})
        assert "File created at /testbed/pkg/new.py" in created.output
        assert env.execute("ls -a /testbed").output.split() == [".", "..", "mod.py", "pkg"]  # no tool litter
    finally:
        env.close()
