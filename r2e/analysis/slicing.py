"""Dependency slices: the minimal sufficient context of one function, language-neutral.

Starting from the target unit, follow the resolver's dependency edges (imports, globals, callees,
enclosing class/block headers) breadth-first. `depth` counts levels of definitions (functions,
methods, classes), the target being level 1; import lines, constants and enclosing headers come with
the definitions that need them. When the slice exceeds `max_tokens`, the farthest units (in hops)
are dropped first; the target and the headers enclosing any kept unit are never dropped. The
adapter renders each file's kept units; files come farthest-first, the target's file last, each
under a `# file: <path>` header.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from r2e.analysis.records import DEFINITION_KINDS, SourceFile
from r2e.analysis.tokens import count_tokens

HEADER = "# file: {path}"


@dataclass(frozen=True)
class Slice:
    text: str
    tokens: int
    file_tokens: int
    files: tuple[str, ...]
    units: tuple[str, ...]
    trimmed: int  # units dropped to fit the token budget


def collect(target: str, resolver, depth: int | None = None, max_tokens: int | None = None) -> tuple[list[str], dict[str, int], int]:
    """uids of the slice (BFS order) and their hop distances; third value: units trimmed."""
    unit = resolver.unit
    hops = {target: 0}
    level = {target: 1}
    order = [target]
    queue = deque([target])
    while queue:
        uid = queue.popleft()
        u = unit(uid)
        for d in resolver.deps(u):
            if d in hops:
                continue
            du = unit(d)
            structural = d == u.parent
            lvl = level[uid] + (0 if structural or du.kind not in DEFINITION_KINDS else 1)
            if depth is not None and lvl > depth:
                continue
            hops[d] = hops[uid] + 1
            level[d] = lvl
            order.append(d)
            queue.append(d)
    trimmed = 0
    if max_tokens is not None:
        total = 0
        keep: list[str] = []
        for uid in order:  # BFS order is nondecreasing in hops: the tail is the farthest
            cost = unit(uid).tokens
            if uid != target and total + cost > max_tokens:
                trimmed += 1
                continue
            total += cost
            keep.append(uid)
        kept = set(keep)
        for uid in list(keep):  # a kept unit keeps the headers that enclose it
            p = unit(uid).parent
            while p and p not in kept:
                kept.add(p)
                keep.append(p)
                trimmed -= 1 if p in hops else 0
                p = unit(p).parent
        order = keep
    return order, hops, max(trimmed, 0)


def build_slice(target: str, resolver, files: dict[str, SourceFile], adapter, depth: int | None = None,
                max_tokens: int | None = None) -> Slice:
    uids, hops, trimmed = collect(target, resolver, depth, max_tokens)
    unit = resolver.unit
    t = unit(target)
    by_file: dict[str, set[str]] = {}
    far: dict[str, int] = {}
    for uid in uids:
        u = unit(uid)
        by_file.setdefault(u.path, set()).add(uid)
        far[u.path] = max(far.get(u.path, 0), hops.get(uid, 0))
    order = sorted((p for p in by_file if p != t.path), key=lambda p: (-far[p], p)) + [t.path]
    parts = []
    for path in order:
        body = adapter.render(files[path], by_file[path], target if path == t.path else None,
                              resolver.extra_units(path))
        parts.append(HEADER.format(path=path) + "\n" + body)
    text = "\n\n".join(parts) + "\n"
    return Slice(
        text=text, tokens=count_tokens(text), file_tokens=sum(files[p].index.tokens for p in order),
        files=tuple(order), units=tuple(uids), trimmed=trimmed,
    )
