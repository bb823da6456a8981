import pytest

from r2e.intake.sources import SourceError, parse_path, parse_url


@pytest.mark.parametrize("entry,location,ref,base_id", [
    ("https://github.com/psf/requests", "https://github.com/psf/requests", None, "psf__requests"),
    ("https://github.com/psf/requests.git@v2.31.0", "https://github.com/psf/requests.git", "v2.31.0", "psf__requests"),
    ("git@github.com:pallets/click.git", "git@github.com:pallets/click.git", None, "pallets__click"),
    ("ssh://git@host.example/team/proj.git", "ssh://git@host.example/team/proj.git", None, "team__proj"),
    ("file:///tmp/remotes/acme/lib", "file:///tmp/remotes/acme/lib", None, "acme__lib"),
    ("https://user@host.example/o/r@release/1.0", "https://user@host.example/o/r", "release/1.0", "o__r"),
])
def test_parse_url(entry, location, ref, base_id):
    src = parse_url(entry)
    assert (src.location, src.ref, src.base_id) == (location, ref, base_id)


def test_commit_option_overrides_ref():
    assert parse_url("https://h/o/r@main", commit="abc123").ref == "abc123"


@pytest.mark.parametrize("entry", ["", "not a url", "notaurl", "ftp://h/o/r", "https://", "https://host",
                                   "https://h/o r", "https://h:99999/o/r", "https://h/o/r@-rf", "file://host/x"])
def test_invalid_urls_are_rejected_by_name(entry):
    with pytest.raises(SourceError):
        parse_url(entry)


def test_parse_path(tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "f.txt").write_text("x")
    assert parse_path(str(tmp_path / "proj")).base_id == "local__proj"
    with pytest.raises(SourceError, match="does not exist"):
        parse_path(str(tmp_path / "missing"))
    with pytest.raises(SourceError, match="is not a directory"):
        parse_path(str(tmp_path / "f.txt"))
