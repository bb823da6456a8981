"""Bad input to the commands: hostile CSV exports, unknown repos, odd function ids, unwritable paths, a bad
--home and a corrupt repos.json. Each is a one-line error with a non-zero exit, or a recorded drop."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

UnwritablePath = OSError
from r2e.fsio import atomic_write_json, atomic_write_text, file_lock
from seart.csvdata import expected_columns

UNWRITABLE = "/sys/r2e-x"  # even root cannot create files in sysfs


def one_line_error(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and "Traceback" not in text, text
    return lines[0]


def csv_text(names: list[str]) -> str:
    cols = expected_columns()
    rows = [",".join(cols)]
    for n in names:
        row = {c: "" for c in cols}
        row.update(name=n, stargazers="10", isFork="false", isArchived="false")
        rows.append(",".join(row[c] for c in cols))
    return "\n".join(rows) + "\n"


# ------------------------------------------------------------------ seart --from-csv

def test_unterminated_quote_names_file_and_line(run_r2e, tmp_path):
    text = csv_text(["acme/one", "acme/two"]).splitlines()
    text.insert(2, text[1].replace("acme/one", '"evil/x'))  # an opening quote never closed, on line 3
    saved = tmp_path / "export.csv"
    saved.write_text("\n".join(text) + "\n")
    p = run_r2e("seart", "--from-csv", str(saved), "-o", str(tmp_path / "out.csv"))
    assert p.returncode == 1
    err = one_line_error(p.stderr)
    assert str(saved) in err and "line 3" in err and "unterminated" in err
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.urls.txt").exists()


def test_hostile_names_are_dropped_and_counted(cli, tmp_path):
    bad = ["../../etc", "acme/../../x", "a/b/c", "acme/x y", "acme/$(id)", "./x", "acme/..", "noslash",
           "acme/x?y=1", "acme/x#frag", "acme/", "/abs"]
    saved = tmp_path / "export.csv"
    saved.write_text(csv_text(["acme/good", "Some-Org/re.po_1", *bad]))
    out = tmp_path / "c.csv"
    r = cli("seart", "--from-csv", str(saved), "-o", str(out))
    assert r.exit_code == 0, r.output
    urls = (tmp_path / "c.urls.txt").read_text().splitlines()
    assert sorted(urls) == ["https://github.com/Some-Org/re.po_1", "https://github.com/acme/good"]
    assert f"invalid name {len(bad)}" in r.output


def test_only_hostile_names_is_an_error(run_r2e, tmp_path):
    saved = tmp_path / "export.csv"
    saved.write_text(csv_text(["../../etc"]))
    p = run_r2e("seart", "--from-csv", str(saved), "-o", str(tmp_path / "o.csv"))
    assert p.returncode == 1 and "invalid name 1" in one_line_error(p.stderr)


def test_seart_output_unwritable(run_r2e, tmp_path):
    saved = tmp_path / "export.csv"
    saved.write_text(csv_text(["acme/good"]))
    p = run_r2e("seart", "--from-csv", str(saved), "-o", f"{UNWRITABLE}/out.csv")
    assert p.returncode == 1 and UNWRITABLE in one_line_error(p.stderr)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    p = run_r2e("seart", "--from-csv", str(saved), "-o", str(blocker / "out.csv"))
    assert p.returncode == 1 and str(blocker) in one_line_error(p.stderr)


# ------------------------------------------------------------------ atomic writes

@pytest.mark.parametrize("write", [lambda p: atomic_write_text(p, "x"), lambda p: atomic_write_json(p, {"a": 1})])
def test_atomic_write_errors_name_the_path(tmp_path, write):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for target in (Path(UNWRITABLE) / "a.json", blocker / "sub" / "a.json", Path("/proc/r2e-x/a.json")):
        with pytest.raises(UnwritablePath) as info:
            write(target)
        assert str(target) in str(info.value) and "\n" not in str(info.value)
        assert isinstance(info.value, OSError)  # callers that catch OSError still do
    assert blocker.read_text() == "x" and os.listdir(tmp_path) == ["file"]  # no temp file left behind


def test_file_lock_unwritable(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UnwritablePath, match="cannot write"):
        with file_lock(tmp_path / "f" / ".lock"):
            pass


# ------------------------------------------------------------------ --home

@pytest.mark.parametrize("home", ["/proc/r2e-home", "/sys/r2e-home", "{file}", "{file}/sub/home", "/dev/null/x"])
def test_bad_home_is_one_line(run_r2e, tmp_path, home):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    home = home.format(file=blocker)
    p = run_r2e("--home", home, "setup", "-e", "a", "-l", str(tmp_path))
    assert p.returncode == 2 and home in one_line_error(p.stderr)
    p = run_r2e("list-functions", "-e", "a", env={"R2E_HOME": home})  # the same through $R2E_HOME
    assert p.returncode == 2 and home in one_line_error(p.stderr)
    assert blocker.read_text() == "x"


# ------------------------------------------------------------------ repos.json

@pytest.mark.parametrize("body", [b'{"x": 5}', b'{"x": {}}', b'{"x": {"kind": "path", "source": 3}}', b"[1, 2]",
                                  b'{"trunc', b"\xff\xfe\x00binary"])
def test_corrupt_repos_json_changes_nothing(run_r2e, r2e_home, tmp_path, body):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "a.py").write_text("def f(x):\n    return x + 1\n")
    r2e_home.mkdir()
    (r2e_home / "repos.json").write_bytes(body)
    p = run_r2e("setup", "-e", "a", "-l", str(src))
    err = one_line_error(p.stderr)
    assert p.returncode == 1 and str(r2e_home / "repos.json") in err and "r2e setup" in err
    assert (r2e_home / "repos.json").read_bytes() == body
    assert sorted(os.listdir(r2e_home)) == ["repos.json"]


# ------------------------------------------------------------------ list-functions / show

@pytest.fixture
def odd_experiment(cli, tmp_path, r2e_home):
    src = tmp_path / "odd"
    (src / "pkg").mkdir(parents=True)
    body = "def {n}(x):\n    y = x * 2\n    return y + 1\n"
    (src / "pkg" / "ok.py").write_text(body.format(n="plain"))
    (src / "pkg" / "we\nird.py").write_text(body.format(n="odd"))
    assert cli("setup", "-e", "x", "-l", str(src)).exit_code == 0
    r = cli("extract", "-e", "x", "--disable-all-filters")
    assert r.exit_code == 0, r.output
    return src


def test_list_functions_unknown_repo_is_an_error(run_r2e, odd_experiment):
    p = run_r2e("list-functions", "-e", "x", "--repo", "nope")
    assert p.returncode == 1 and "repo 'nope' is not in experiment 'x'" in one_line_error(p.stderr)
    assert p.stdout == ""
    ok = run_r2e("list-functions", "-e", "x", "--repo", "local__odd")
    assert ok.returncode == 0 and "plain" in ok.stdout


def test_newline_in_a_function_id_stays_on_one_line(run_r2e, odd_experiment):
    p = run_r2e("list-functions", "-e", "x")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 2 and all("  L" in ln for ln in lines), lines
    odd = next(ln for ln in lines if "::odd" in ln).split("  ")[0]
    assert odd == "local__odd/pkg/we\\nird.py::odd"
    shown = run_r2e("show", "-e", "x", odd)  # the id as printed finds the function
    assert shown.returncode == 0 and "def odd(x)" in shown.stdout
    js = run_r2e("list-functions", "-e", "x", "--json")
    assert sorted(json.loads(ln)["id"] for ln in js.stdout.splitlines())[0] == "local__odd/pkg/ok.py::plain"


# ------------------------------------------------------------------ manifest.json with wrong types

@pytest.mark.parametrize("field, value", [("path", 5), ("commit", None), ("id", ["x"]), ("ref", 3)])
def test_manifest_record_of_wrong_types_is_one_line(run_r2e, r2e_home, tmp_path, field, value):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "a.py").write_text("def f(x):\n    return x + 1\n")
    assert run_r2e("setup", "-e", "a", "-l", str(src)).returncode == 0
    manifest = r2e_home / "experiments" / "a" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["repos"][0][field] = value
    manifest.write_text(json.dumps(data))
    before = {p: p.read_bytes() for p in r2e_home.rglob("*") if p.is_file()}
    for args in (("extract", "-e", "a"), ("repos", "-e", "a"), ("setup", "-e", "a", "-l", str(src)),
                 ("graph", "-e", "a", "--repo", "local__src", "-o", str(tmp_path / "g.json"))):
        p = run_r2e(*args)
        err = one_line_error(p.stderr)
        assert p.returncode == 1 and str(manifest) in err and f"'{field}'" in err and "r2e setup -e a" in err, args
    assert {p: p.read_bytes() for p in r2e_home.rglob("*") if p.is_file()} == before


# ------------------------------------------------------------------ unwritable outputs of other stages

from tests.test_stage_files import EXP, REPO, experiment as stage_experiment  # noqa: E402,F401


@pytest.mark.parametrize("args", [("export", "-e", EXP, "-o", "{out}/x.jsonl"), ("report", "-e", EXP, "-o", "{out}"),
                                  ("graph", "-e", EXP, "--repo", REPO, "-o", "{out}/g.json")])
@pytest.mark.parametrize("out", [UNWRITABLE, "{file}/sub"])
def test_unwritable_output_is_one_line(run_r2e, stage_experiment, tmp_path, args, out):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = out.format(file=blocker)
    p = run_r2e(*[a.format(out=out) for a in args])
    assert p.returncode == 1 and out in one_line_error(p.stderr), p.stderr
    assert blocker.read_text() == "x"
