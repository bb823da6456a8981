"""`r2e seart` against a local HTTP server that serves gzipped CSV exports with SEART's real columns."""

import csv
import gzip
import io
import socket
import threading

import pytest
from werkzeug import Response

from r2e.intake.listfile import read_list_file
from r2e.intake.sources import parse_url
from seart.csvdata import expected_columns

ROWS = [
    # name, isFork, commits, stargazers, pushedAt, isArchived
    ("acme/alpha", "false", "120", "900", "2024-05-01T10:00:00", "false"),
    ("acme/beta", "false", "15", "300", "2022-01-01T10:00:00", "false"),
    ("forker/alpha", "true", "120", "50", "2024-05-01T10:00:00", "false"),
    ("old/archive", "false", "500", "2000", "2019-01-01T10:00:00", "true"),
    ("zeta/gamma", "false", "80", "1200", "2024-09-09T10:00:00", "false"),
]


def export_bytes(rows=ROWS, gz=True) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=expected_columns())
    writer.writeheader()
    for i, (name, fork, commits, stars, pushed, archived) in enumerate(rows, 1):
        row = {c: "" for c in expected_columns()}
        row.update(id=str(i), name=name, isFork=fork, commits=commits, stargazers=stars, pushedAt=pushed,
                   createdAt="2018-01-01T00:00:00", isArchived=archived, mainLanguage="Python",
                   lastCommitSHA="0" * 40, codeLines="1000", license="MIT License")
        writer.writerow(row)
    data = out.getvalue().encode()
    return gzip.compress(data) if gz else data


def serve(httpserver, body: bytes, status: int = 200):
    seen = []

    def handler(request):
        seen.append(dict(request.args))
        return Response(body, status=status, content_type="application/gzip")

    httpserver.expect_request("/api/r/download/csv").respond_with_handler(handler)
    return httpserver.url_for("/api/r/download/csv"), seen


def test_download_curate_and_write_url_list(cli, r2e_home, httpserver, tmp_path):
    url, seen = serve(httpserver, export_bytes())
    out = tmp_path / "picked.csv"
    r = cli("seart", "--url", url, "--stars-min", "100", "--created-min", "2015-01-01",
            "--committed-min", "2020-01-01", "--has-license", "--contributors-min", "2", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert seen == [{"language": "Python", "starsMin": "100", "createdMin": "2015-01-01",
                     "committedMin": "2020-01-01", "excludeForks": "true", "hasLicense": "true",
                     "contributorsMin": "2"}]
    kept = list(csv.DictReader(out.open()))
    assert [r["name"] for r in kept] == ["zeta/gamma", "acme/alpha", "acme/beta"]  # most starred first
    assert list(kept[0]) == expected_columns()
    assert "dropped: archived 1, fork 1" in r.output
    urls = read_list_file(tmp_path / "picked.urls.txt")
    assert urls == ["https://github.com/zeta/gamma", "https://github.com/acme/alpha", "https://github.com/acme/beta"]
    assert [parse_url(u).base_id for u in urls] == ["zeta__gamma", "acme__alpha", "acme__beta"]
    assert read_list_file(out) == urls  # the curated CSV itself is a valid --repo-urls-file


def test_client_side_filters_and_max_urls(cli, httpserver, tmp_path):
    url, _ = serve(httpserver, export_bytes())
    out = tmp_path / "c.csv"
    r = cli("seart", "--url", url, "--pushed-since", "2024-01-01", "--min-commits", "50", "--max-urls", "1",
            "-o", str(out))
    assert r.exit_code == 0, r.output
    assert read_list_file(tmp_path / "c.urls.txt") == ["https://github.com/zeta/gamma"]
    assert "over --max-urls 1" in r.output and "not pushed since 1" in r.output


def test_from_saved_csv_and_default_output_folder(cli, r2e_home, tmp_path):
    saved = tmp_path / "export.csv"
    saved.write_bytes(export_bytes(gz=False))
    r = cli("seart", "--from-csv", str(saved), "--keep-archived", "--include-forks")
    assert r.exit_code == 0, r.output
    (written,) = (r2e_home / "seart").glob("*.csv")
    assert len(list(csv.DictReader(written.open()))) == 5


@pytest.mark.parametrize("args,message", [
    (["--created-min", "2024-13-01"], "invalid date for --created-min: '2024-13-01'"),
    (["--committed-max", "yesterday"], "invalid date for --committed-max"),
    (["--created-min", "2024-02-01", "--created-max", "2023-01-01"], "createdMin 2024-02-01 is after createdMax"),
    (["--stars-min", "10", "--stars-max", "5"], "starsMin 10 is greater than starsMax 5"),
])
def test_bad_dates_and_ranges_are_one_line_usage_errors(run_r2e, args, message):
    p = run_r2e("seart", "--url", "http://127.0.0.1:9/x", *args)
    assert p.returncode == 2 and message in p.stderr
    assert p.stderr.strip().count("\n") == 0 and "Traceback" not in p.stderr


@pytest.mark.parametrize("body,status,message", [
    (b"", 200, "empty export"),
    (gzip.compress(b""), 200, "empty export"),
    (b"\x1f\x8b\x08garbage", 200, "corrupt gzip"),
    (gzip.compress(b"foo,bar\n1,2\n"), 200, "no 'name' column"),
    (gzip.compress(b"name,stars\nnot-a-repo,3\n"), 200, "no repositories left after curation (invalid name 1)"),
    (gzip.compress(b"name,stars\na/b,3,4\n"), 200, "malformed row at line 2"),
    (b"oops", 500, "HTTP 500"),
    (b"missing", 404, "HTTP 404"),
])
def test_server_answers_that_cannot_be_used(run_r2e, httpserver, body, status, message, tmp_path):
    url, _ = serve(httpserver, body, status)
    p = run_r2e("seart", "--url", url, "-o", str(tmp_path / "x.csv"))
    assert p.returncode == 1 and message in p.stderr, p.stderr
    assert p.stderr.strip().count("\n") == 0 and "Traceback" not in p.stderr
    assert not (tmp_path / "x.csv").exists()


def test_empty_result_after_curation(cli, httpserver):
    url, _ = serve(httpserver, export_bytes(rows=[ROWS[2], ROWS[3]]))
    r = cli("seart", "--url", url)
    assert r.exit_code == 1 and "no repositories left after curation (archived 1, fork 1)" in r.output
    httpserver.clear()
    url, _ = serve(httpserver, export_bytes(rows=[]))
    r = cli("seart", "--url", url)
    assert r.exit_code == 1 and "(the export has no rows)" in r.output


def test_unreachable_and_silent_hosts(run_r2e):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    p = run_r2e("seart", "--url", f"http://127.0.0.1:{port}/csv")
    assert p.returncode == 1 and "cannot reach SEART" in p.stderr and "Traceback" not in p.stderr

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    try:
        p = run_r2e("seart", "--url", f"http://127.0.0.1:{silent.getsockname()[1]}/csv", "--timeout", "1")
    finally:
        silent.close()
    assert p.returncode == 1 and "did not answer within 1s" in p.stderr
