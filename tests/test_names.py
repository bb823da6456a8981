import pytest

from r2e.names import is_valid_experiment, repo_id_for, sanitize, with_suffix


@pytest.mark.parametrize("raw", ["../../etc", "a/b", "we ird", "q'u\"o", "semi;colon", "$(rm -rf ~)", "`id`", "..", "a..b"])
def test_sanitize_leaves_no_dangerous_characters(raw):
    out = sanitize(raw)
    assert out and ".." not in out
    assert all(c.isalnum() or c in "._-" for c in out), out
    assert not out.startswith(".")


def test_repo_ids():
    assert repo_id_for("acme", "lib.git") == "acme__lib"
    assert repo_id_for("local", "my project") == "local__my_project"
    assert with_suffix("a", {"a", "a-2"}) == "a-3"
    assert with_suffix("b", {"a"}) == "b"


def test_experiment_names():
    assert is_valid_experiment("quick-start_1.0")
    for bad in ["", "a/b", "../x", "a b", "-x", "x;y", "a..b"]:
        assert not is_valid_experiment(bad), bad
