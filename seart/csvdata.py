"""Reading SEART CSV exports (gzip-compressed or plain) into plain row dicts."""

from __future__ import annotations

import csv
import gzip
import io
from importlib import resources

GZIP_MAGIC = b"\x1f\x8b"


class CSVError(ValueError):
    """An export that cannot be read; the message names the source."""


def expected_columns() -> list[str]:
    text = (resources.files("seart") / "data" / "columns.txt").read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def decode_export(data: bytes, source: str) -> list[dict[str, str]]:
    """Rows of an export; raises CSVError when it is not a SEART CSV with at least a `name` column."""
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise CSVError(f"{source}: corrupt gzip data ({exc})") from None
    if b"\x00" in data[:4096]:
        raise CSVError(f"{source}: binary data, not a CSV export")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CSVError(f"{source}: not UTF-8 text") from None
    if not text.strip():
        raise CSVError(f"{source}: empty export")
    # strict: an unterminated quote is an error, not a field swallowing every following line
    reader = csv.DictReader(io.StringIO(text), strict=True)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise CSVError(f"{source}: malformed CSV at line 1 ({exc})") from None
    if "name" not in header:
        raise CSVError(f"{source}: malformed export, no 'name' column (got {', '.join(header[:6]) or 'nothing'})")
    rows: list[dict[str, str]] = []
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            what = "unterminated quoted field" if "end of data" in str(exc) else str(exc)
            raise CSVError(f"{source}: malformed CSV at line {start} ({what})") from None
        if None in row:
            raise CSVError(f"{source}: malformed row at line {start} (more fields than the header)")
        rows.append(dict(row))
        start = reader.line_num + 1
    return rows


def encode_rows(rows: list[dict[str, str]], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
