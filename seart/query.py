"""The server-side query: SEART's download endpoint and its parameters, validated before any request."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

DEFAULT_URL = "https://seart-ghs.si.usi.ch/api/r/download/csv"
URL_ENV = "R2E_SEART_URL"


class QueryError(ValueError):
    """A parameter SEART would reject or misread; the message names it."""


def parse_date(value: str, option: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise QueryError(f"invalid date for {option}: '{value}' (expected YYYY-MM-DD)") from None


@dataclass(frozen=True)
class SeartQuery:
    language: str = "Python"
    starsMin: int | None = None
    starsMax: int | None = None
    createdMin: str | None = None
    createdMax: str | None = None
    committedMin: str | None = None
    committedMax: str | None = None
    excludeForks: bool = True
    hasLicense: bool = False
    codeLinesMin: int | None = None
    codeLinesMax: int | None = None
    commitsMin: int | None = None
    contributorsMin: int | None = None

    def validate(self) -> None:
        for lo, hi in (("createdMin", "createdMax"), ("committedMin", "committedMax")):
            a, b = getattr(self, lo), getattr(self, hi)
            da = parse_date(a, lo) if a else None
            db = parse_date(b, hi) if b else None
            if da and db and da > db:
                raise QueryError(f"{lo} {a} is after {hi} {b}")
        for lo, hi in (("starsMin", "starsMax"), ("codeLinesMin", "codeLinesMax")):
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and a > b:
                raise QueryError(f"{lo} {a} is greater than {hi} {b}")
        if not self.language.strip():
            raise QueryError("language must not be empty")

    def params(self) -> dict[str, str]:
        """Query-string parameters, only the ones set (SEART treats absent as unbounded)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value is False:
                continue
            out[f.name] = "true" if value is True else str(value)
        return out
