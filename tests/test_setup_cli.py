"""`r2e setup` / `r2e repos` end to end: real git repos cloned over file://, every bad input."""

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import pytest

from tests.conftest import PROJECT_ROOT, git, make_git_repo


def manifest(home, exp):
    return json.loads((home / "experiments" / exp / "manifest.json").read_text())


def test_clone_urls_and_copy_local_paths(cli, r2e_home, git_repo_factory, tmp_path):
    url, _, sha = git_repo_factory("acme", "lib")
    plain = tmp_path / "plain project"
    (plain / "pkg").mkdir(parents=True)
    (plain / "pkg" / "mod.py").write_text("def f():\n    return 1\n")
    result = cli("setup", "-e", "exp1", "-r", url, "-l", str(plain))
    assert result.exit_code == 0, result.output
    assert "2 ok, 0 skipped, 0 failed" in result.output
    repos = {r["id"]: r for r in manifest(r2e_home, "exp1")["repos"]}
    assert set(repos) == {"acme__lib", "local__plain_project"}
    assert repos["acme__lib"]["commit"] == sha and repos["acme__lib"]["source"] == url
    local = repos["local__plain_project"]
    assert (r2e_home / "repos" / "local__plain_project" / "pkg" / "mod.py").exists()
    # a plain folder becomes a git repo, so it has a commit too
    assert git(r2e_home / "repos" / "local__plain_project", "rev-parse", "HEAD") == local["commit"]
    listing = cli("repos", "-e", "exp1")
    assert "acme__lib" in listing.output and sha[:12] in listing.output


def test_rerun_is_idempotent_and_keeps_dates(cli, r2e_home, git_repo_factory, tmp_path):
    url, _, _ = git_repo_factory("acme", "lib")
    plain = tmp_path / "proj"
    plain.mkdir()
    (plain / "a.py").write_text("x = 1\n")
    assert cli("setup", "-e", "e", "-r", url, "-l", str(plain)).exit_code == 0
    before = manifest(r2e_home, "e")
    again = cli("setup", "-e", "e", "-r", url, "-l", str(plain))
    assert again.exit_code == 0 and "0 ok, 2 skipped, 0 failed" in again.output
    assert manifest(r2e_home, "e")["repos"] == before["repos"]
    forced = cli("setup", "-e", "e", "-r", url, "--force")
    assert "1 ok" in forced.output


def test_changed_local_folder_is_copied_again(cli, r2e_home, tmp_path):
    plain = tmp_path / "proj"
    plain.mkdir()
    (plain / "a.py").write_text("x = 1\n")
    cli("setup", "-e", "e", "-l", str(plain))
    (plain / "a.py").write_text("x = 2\n")
    out = cli("setup", "-e", "e", "-l", str(plain))
    assert "1 ok" in out.output
    assert (r2e_home / "repos" / "local__proj" / "a.py").read_text() == "x = 2\n"


def test_pin_commit_with_at_ref_and_commit_option(cli, r2e_home, git_repo_factory):
    url, path, first = git_repo_factory("acme", "lib")
    second = make_git_repo(path, {"later.py": "y = 2\n"}, "second")
    assert cli("setup", "-e", "a", "-r", f"{url}@{first}").exit_code == 0
    assert manifest(r2e_home, "a")["repos"][0]["commit"] == first
    assert not (r2e_home / "repos" / "acme__lib" / "later.py").exists()
    assert cli("setup", "-e", "b", "-r", url, "--commit", second).exit_code == 0
    assert manifest(r2e_home, "b")["repos"][0]["commit"] == second
    shallow = cli("setup", "-e", "c", "-r", f"{url}@{first}", "--depth", "1", "--force")
    assert shallow.exit_code == 0, shallow.output
    bad = cli("setup", "-e", "d", "-r", f"{url}@no-such-branch")
    assert bad.exit_code == 1 and "ref 'no-such-branch' not found" in bad.output


def test_same_name_from_two_sources_gets_a_suffix(cli, r2e_home, tmp_path):
    for owner in ("one", "two"):
        make_git_repo(tmp_path / owner / "x" / "lib", {"m.py": f"OWNER = '{owner}'\n"})
    r = cli("setup", "-e", "e", "-r", f"file://{tmp_path}/one/x/lib", "-r", f"file://{tmp_path}/two/x/lib", "-j", "1")
    assert r.exit_code == 0, r.output
    assert {x["id"] for x in manifest(r2e_home, "e")["repos"]} == {"x__lib", "x__lib-2"}


def test_list_files_in_all_formats(cli, r2e_home, git_repo_factory, tmp_path):
    urls = [git_repo_factory("o", f"r{i}")[0] for i in range(3)]
    json_file = tmp_path / "urls.json"
    json_file.write_text(json.dumps(urls[:1]))
    lines_file = tmp_path / "urls.txt"
    lines_file.write_text(f"# mine\n{urls[1]}\n")
    csv_file = tmp_path / "urls.csv"
    csv_file.write_text(f"url,stargazers\n{urls[2]},10\n")
    paths_file = tmp_path / "paths.txt"
    (tmp_path / "loc").mkdir()
    paths_file.write_text(str(tmp_path / "loc") + "\n")
    for i, f in enumerate([json_file, lines_file, csv_file]):
        r = cli("setup", "-e", "e", "--repo-urls-file", str(f))
        assert r.exit_code == 0, r.output
    assert cli("setup", "-e", "e", "--repo-paths-file", str(paths_file)).exit_code == 0
    assert {x["id"] for x in manifest(r2e_home, "e")["repos"]} == {"o__r0", "o__r1", "o__r2", "local__loc"}


def test_one_bad_entry_never_aborts_the_batch(cli, r2e_home, git_repo_factory, tmp_path):
    url, _, _ = git_repo_factory("acme", "good")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    r = cli("setup", "-e", "mix", "-r", url, "-r", "not-a-url", "-r", url, "-l", str(tmp_path / "missing"),
            "-l", str(a_file), "-r", f"file://{tmp_path}/no/such/repo", "-r", "https://127.0.0.1:1/acme/down")
    assert r.exit_code == 1
    out = r.output
    assert "1 ok, 0 skipped, 6 failed" in out
    for expected in ["invalid repository URL 'not-a-url'", "duplicate entry", "does not exist",
                     "is not a directory", "acme__down", "no__such__repo" if False else "repo"]:
        assert expected in out
    assert "Traceback" not in out
    assert [x["id"] for x in manifest(r2e_home, "mix")["repos"]] == ["acme__good"]
    failed_lines = [ln for ln in out.splitlines() if ln.startswith("failed")]
    assert len(failed_lines) == 6 and all(len(ln) < 400 for ln in failed_lines)


@pytest.mark.parametrize("weird", ["we ird", "semi;colon", "q'uo\"te", "$(touch PWNED)", "a..b"])
def test_hostile_names_are_never_interpolated(cli, r2e_home, tmp_path, weird, monkeypatch):
    monkeypatch.chdir(tmp_path)
    remote = tmp_path / "remotes" / "own er" / weird
    make_git_repo(remote, {"x.py": "X = 1\n"})
    local = tmp_path / "locals" / weird
    local.mkdir(parents=True)
    (local / "y.py").write_text("Y = 1\n")
    r = cli("setup", "-e", "e", "-r", f"file://{quote(str(remote))}", "-l", str(local))
    assert r.exit_code == 0, r.output
    assert not list(tmp_path.rglob("PWNED"))
    for rec in manifest(r2e_home, "e")["repos"]:
        assert all(c.isalnum() or c in "._-" for c in rec["id"]) and ".." not in rec["id"]
        assert (r2e_home / "repos" / rec["id"]).is_dir()


@pytest.mark.parametrize("content", ["", "[oops", "\x00\x01binary"])
def test_bad_list_file_is_a_one_line_usage_error(run_r2e, tmp_path, content):
    f = tmp_path / "list.txt"
    f.write_text(content)
    p = run_r2e("setup", "-e", "e", "--repo-urls-file", str(f))
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and str(f) in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("args,message", [
    (["setup", "-e", "e"], "nothing to set up"),
    (["setup", "-e", "../x", "-r", "https://h/o/r"], "invalid experiment name"),
    (["setup", "-e", "e", "-r", "https://h/o/a", "-r", "https://h/o/b", "--commit", "abc"], "--commit pins one"),
    (["repos", "-e", "never-made"], "experiment 'never-made' not found"),
])
def test_usage_errors_are_one_line(run_r2e, args, message):
    p = run_r2e(*args)
    assert p.returncode in (1, 2) and message in p.stderr
    assert "Traceback" not in p.stderr and p.stderr.strip().count("\n") == 0


def silent_server():
    """A loopback TCP server that accepts connections and never answers (a hung host)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns = []
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], lambda: (stop.set(), srv.close(), [c.close() for c in conns])


def test_unresponsive_host_times_out(cli, r2e_home):
    port, close = silent_server()
    try:
        start = time.monotonic()
        r = cli("setup", "-e", "e", "-r", f"http://127.0.0.1:{port}/acme/hang", "--clone-timeout", "2")
        assert time.monotonic() - start < 30
    finally:
        close()
    assert r.exit_code == 1 and "timed out after 2s" in r.output
    assert not [p for p in (r2e_home / "repos").iterdir()]


def test_interrupted_clone_keeps_finished_work(run_r2e, r2e_home, git_repo_factory):
    url, _, _ = git_repo_factory("acme", "done")
    assert run_r2e("setup", "-e", "e", "-r", url).returncode == 0
    port, close = silent_server()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "r2e", "setup", "-e", "e", "-r", f"http://127.0.0.1:{port}/acme/hang",
             "-r", f"http://127.0.0.1:{port}/acme/hang2", "-j", "2"],
            env={**__import__("os").environ, "PYTHONPATH": str(PROJECT_ROOT)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not list((r2e_home / "repos").glob(".tmp-*")):
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        close()
    assert proc.returncode == 130, (out, err)
    assert "Interrupted" in err and "Traceback" not in err
    assert [r["id"] for r in manifest(r2e_home, "e")["repos"]] == ["acme__done"]
    assert not list((r2e_home / "repos").glob(".tmp-*"))
    assert run_r2e("setup", "-e", "e", "-r", url).returncode == 0  # still usable afterwards


def test_corrupt_manifest_is_one_line_and_nothing_changes(cli, r2e_home, git_repo_factory):
    url, _, _ = git_repo_factory("acme", "lib")
    path = r2e_home / "experiments" / "bad" / "manifest.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"repos": [')
    for args in (["setup", "-e", "bad", "-r", url], ["repos", "-e", "bad"]):
        res = cli(*args)
        assert res.exit_code == 1, res.output
        assert len(res.output.strip().splitlines()) == 1 and str(path) in res.output and ("not valid JSON" in res.output or "not a valid manifest" in res.output)
    assert path.read_text() == '{"repos": ['
    assert not (r2e_home / "repos").exists()  # nothing was cloned
