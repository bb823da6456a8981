"""What the user asked to set up: a remote URL (optionally pinned) or a local folder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from r2e.names import repo_id_for

_SCP_LIKE = re.compile(r"^(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>[^\s]+)$")
_SAFE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}$")
_SCHEMES = {"https", "http", "ssh", "git", "file"}


class SourceError(ValueError):
    """An entry that cannot be set up; the message names the entry."""


@dataclass(frozen=True)
class RepoSource:
    kind: str  # "url" | "path"
    location: str  # normalised URL or absolute path
    ref: str | None = None  # branch, tag or commit to check out
    raw: str = ""  # the entry as the user wrote it

    @property
    def base_id(self) -> str:
        if self.kind == "path":
            return repo_id_for("local", Path(self.location).name)
        owner, name = url_owner_name(self.location)
        return repo_id_for(owner, name)

    @property
    def key(self) -> str:
        """Identity of the source, for duplicate detection and idempotent re-runs."""
        return f"{self.kind}:{self.location.rstrip('/').removesuffix('.git')}"


def _url_path(url: str) -> str:
    m = _SCP_LIKE.match(url)
    if m:
        return m.group("path")
    return unquote(urlparse(url).path)


def url_owner_name(url: str) -> tuple[str | None, str]:
    parts = [p for p in _url_path(url).strip("/").split("/") if p]
    if not parts:
        raise SourceError(f"invalid repository URL '{url}': no repository name in its path")
    name = parts[-1].removesuffix(".git")
    owner = parts[-2] if len(parts) >= 2 else None
    return owner, name


def _is_valid_url(url: str) -> bool:
    if any(c.isspace() for c in url) or not url.isprintable():
        return False
    if _SCP_LIKE.match(url):
        return True
    parsed = urlparse(url)
    if parsed.scheme not in _SCHEMES:
        return False
    if parsed.scheme == "file":
        return bool(parsed.path) and not parsed.netloc
    if not parsed.hostname:
        return False
    try:
        parsed.port  # raises on a malformed port
    except ValueError:
        return False
    return bool(parsed.path.strip("/"))


def parse_url(entry: str, commit: str | None = None) -> RepoSource:
    """Parse `URL`, `URL@REF`; `commit` (from --commit) overrides any @REF."""
    raw = entry
    entry = entry.strip()
    if not entry:
        raise SourceError("empty repository URL")
    url, ref = entry, None
    if "@" in entry:
        head, tail = entry.rsplit("@", 1)
        if tail and ":" not in tail and _is_valid_url(head):
            url, ref = head, tail
    if not _is_valid_url(url):
        raise SourceError(f"invalid repository URL '{raw}'")
    url_owner_name(url)
    ref = commit or ref
    if ref is not None and not _SAFE_REF.match(ref):
        raise SourceError(f"invalid ref '{ref}' in '{raw}'")
    return RepoSource("url", url.rstrip("/"), ref, raw)


def parse_path(entry: str) -> RepoSource:
    raw = entry
    if not entry.strip():
        raise SourceError("empty local path")
    path = Path(entry).expanduser()
    if not path.exists():
        raise SourceError(f"local path '{raw}' does not exist")
    if not path.is_dir():
        raise SourceError(f"local path '{raw}' is not a directory")
    return RepoSource("path", str(path.resolve()), None, raw)
