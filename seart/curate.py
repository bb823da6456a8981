"""Client-side curation of SEART rows and the files `r2e setup` consumes."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from r2e.fsio import atomic_write_text
from seart.csvdata import encode_rows, expected_columns

GITHUB = "https://github.com"


@dataclass(frozen=True)
class ClientFilters:
    not_archived: bool = True
    no_forks: bool = True
    pushed_since: dt.date | None = None
    min_commits: int | None = None
    min_stars: int | None = None


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except ValueError:
        return None


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def why_dropped(row: dict[str, str], f: ClientFilters) -> str | None:
    """The first client-side filter that rejects the row, or None to keep it."""
    if f.not_archived and _true(row.get("isArchived")):
        return "archived"
    if f.no_forks and _true(row.get("isFork")):
        return "fork"
    if f.pushed_since is not None:
        pushed = _date(row.get("pushedAt"))
        if pushed is None or pushed < f.pushed_since:
            return "not pushed since"
    if f.min_commits is not None and (_int(row.get("commits")) or 0) < f.min_commits:
        return "too few commits"
    if f.min_stars is not None and (_int(row.get("stargazers")) or 0) < f.min_stars:
        return "too few stars"
    return None


_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def valid_name(name: str) -> bool:
    """`owner/name` as GitHub spells it: nothing that could climb a path or a URL (`..`, `.`, slashes)."""
    return bool(_NAME.match(name)) and ".." not in name and all(part.strip(".") for part in name.split("/"))


def curate(rows: list[dict[str, str]], filters: ClientFilters, max_urls: int | None) -> tuple[list[dict], dict[str, int]]:
    """Distinct repositories passing the filters, most starred first, cut to max_urls; plus drop counts."""
    dropped: dict[str, int] = {}
    kept: dict[str, dict] = {}
    for row in rows:
        name = (row.get("name") or "").strip()
        reason = "invalid name" if not valid_name(name) else why_dropped(row, filters)
        if reason is None and name.lower() in kept:
            reason = "duplicate"
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        kept[name.lower()] = row
    ordered = sorted(kept.values(), key=lambda r: -(_int(r.get("stargazers")) or 0))
    if max_urls is not None and len(ordered) > max_urls:
        dropped["over --max-urls"] = len(ordered) - max_urls
        ordered = ordered[:max_urls]
    return ordered, dropped


def url_of(row: dict[str, str]) -> str:
    return f"{GITHUB}/{row['name'].strip()}"


def write_outputs(rows: list[dict], csv_path: Path) -> Path:
    """Write the curated CSV and, beside it, the URL list (`<stem>.urls.txt`); return the list's path."""
    columns = expected_columns()
    extra = [c for r in rows[:1] for c in r if c not in columns]
    atomic_write_text(csv_path, encode_rows(rows, columns + extra))
    urls_path = csv_path.with_name(csv_path.stem + ".urls.txt")
    atomic_write_text(urls_path, "".join(url_of(r) + "\n" for r in rows))
    return urls_path
