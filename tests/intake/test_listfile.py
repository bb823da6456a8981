import pytest

from r2e.errors import R2EUsageError
from r2e.intake.listfile import read_list_file


def write(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content) if isinstance(content, bytes) else p.write_text(content)
    return p


def test_json_lines_and_seart_csv(tmp_path):
    assert read_list_file(write(tmp_path, "a.json", '["file:///x/a/b", {"url": "https://h/o/r"}]')) == [
        "file:///x/a/b", "https://h/o/r"]
    assert read_list_file(write(tmp_path, "a.txt", "# comment\nhttps://h/o/r\n\n  file:///x/y/z  \n")) == [
        "https://h/o/r", "file:///x/y/z"]
    csv_text = 'id,name,isFork,stargazers\n1,"psf/requests",false,50000\n2,pallets/click,false,15000\n'
    assert read_list_file(write(tmp_path, "seart.csv", csv_text)) == [
        "https://github.com/psf/requests", "https://github.com/pallets/click"]
    assert read_list_file(write(tmp_path, "u.csv", "url,stars\nfile:///a/b/c,3\n")) == ["file:///a/b/c"]


@pytest.mark.parametrize("content,message", [
    ("", "is empty"),
    ("  \n\n", "is empty"),
    ("[1, 2", "malformed JSON"),
    ('{"a": 1}', "must hold a JSON list"),
    ("[]", "has no entries"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "is binary"),
    (b"\xff\xfe caf\xe9", "not UTF-8"),
    ("# only comments\n", "has no entries"),
])
def test_bad_list_files_name_the_file(tmp_path, content, message):
    path = write(tmp_path, "list.txt", content)
    with pytest.raises(R2EUsageError, match=message) as info:
        read_list_file(path)
    assert str(path) in str(info.value.message)


def test_missing_and_directory_list_files(tmp_path):
    with pytest.raises(R2EUsageError, match="does not exist"):
        read_list_file(tmp_path / "nope.txt")
    with pytest.raises(R2EUsageError, match="is not a file"):
        read_list_file(tmp_path)
