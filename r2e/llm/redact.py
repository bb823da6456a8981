"""Keep API keys and URL credentials out of messages, logs and records."""

from __future__ import annotations

import os
import re
from typing import Iterable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"
# Shorter values would mask ordinary words everywhere they occur; such secrets are weak anyway.
MIN_SECRET_LEN = 4
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_SECRET_PARAMS = re.compile(r"(?i)^(api[-_]?key|key|token|access[-_]?token|secret|password|sig|signature)$")


def redact_url(url: str | None) -> str | None:
    """https://user:key@host/v1?api_key=x -> https://***@host/v1?api_key=***; other URLs unchanged."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return _USERINFO.sub(r"\1" + MASK + "@", url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAMS.match(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _SECRET_PARAMS.match(k) else v) for k, v in pairs], safe="*")
    if host is None and netloc == parts.netloc:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_secrets(url: str | None) -> list[str]:
    """The credentials embedded in a URL (user, password, secret query values), raw and percent-decoded."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        found += [userinfo, unquote(userinfo), *userinfo.split(":", 1)]
        found += [unquote(p) for p in userinfo.split(":", 1)]
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if _SECRET_PARAMS.match(key):
            found.append(value)
    return found


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (and any credentials in URLs) replaced by ***."""
    if not text:
        return text
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LEN}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _USERINFO.sub(r"\1" + MASK + "@", text)


def secrets_of(config) -> list[str]:
    """What must never be written anywhere for this LLMConfig: the API key's value and URL credentials."""
    found = url_secrets(getattr(config, "base_url", None))
    key_env = getattr(config, "api_key_env", None)
    key = os.environ.get(key_env) if key_env else None
    if key:
        found.append(key)
    return [s for s in found if s and len(s) >= MIN_SECRET_LEN]
