"""Downloading an export from SEART's endpoint, with bounded time and one-line errors."""

from __future__ import annotations

import os

from seart.query import DEFAULT_URL, URL_ENV, SeartQuery

MAX_BYTES = 512 * 1024 * 1024


class FetchError(RuntimeError):
    """The endpoint could not be reached or answered with an error."""


def endpoint(url: str | None = None) -> str:
    return url or os.environ.get(URL_ENV) or DEFAULT_URL


def download(query: SeartQuery, url: str | None = None, timeout: float = 120.0) -> bytes:
    """The raw export bytes (gzip or plain) for `query`."""
    import requests

    target = endpoint(url)
    try:
        # The export is a .gz file: keep it compressed on the wire and decode it ourselves.
        response = requests.get(target, params=query.params(), timeout=(15, timeout), stream=True,
                                headers={"Accept-Encoding": "identity", "User-Agent": "r2e-seart"})
    except requests.exceptions.Timeout:
        raise FetchError(f"SEART at {target} did not answer within {timeout:g}s") from None
    except requests.exceptions.RequestException as exc:
        raise FetchError(f"cannot reach SEART at {target}: {type(exc).__name__}") from None
    with response:
        if response.status_code != 200:
            raise FetchError(f"SEART at {target} answered HTTP {response.status_code} {response.reason or ''}".rstrip())
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(1 << 16):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise FetchError(f"SEART export from {target} is larger than {MAX_BYTES >> 20} MiB")
                chunks.append(chunk)
        except requests.exceptions.RequestException as exc:
            raise FetchError(f"download from SEART at {target} broke off: {type(exc).__name__}") from None
    return b"".join(chunks)
