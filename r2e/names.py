"""Safe names for repositories and experiments: nothing that could escape a folder or a shell."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXPERIMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_PART = 100


def sanitize(part: str) -> str:
    """Reduce a name to [A-Za-z0-9._-]: no '/', '..', whitespace, quotes or shell metacharacters."""
    cleaned = _UNSAFE.sub("_", part.strip())
    cleaned = re.sub(r"\.{2,}", "_", cleaned)  # no '..' survives
    cleaned = re.sub(r"_{2,}", "_", cleaned).strip("._-")
    return cleaned[:MAX_PART] or "repo"


def repo_id_for(owner: str | None, name: str) -> str:
    """`<owner>__<name>` for remote repos; `local__<dirname>` is built by passing owner='local'."""
    name = sanitize(name.removesuffix(".git"))
    return f"{sanitize(owner)}__{name}" if owner else name


def with_suffix(base: str, taken: set[str]) -> str:
    """The first of base, base-2, base-3 ... not in `taken`."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def is_valid_experiment(name: str) -> bool:
    return bool(_EXPERIMENT.match(name)) and ".." not in name
