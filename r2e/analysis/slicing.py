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

from r2e.analysis.records import CLASS, DEFINITION_KINDS, IMPORT, SourceFile
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
    stubs: tuple[str, ...] = ()  # trimmed definitions rendered as a one-line stand-in


def collect(target: str, resolver, depth: int | None = None, max_tokens: int | None = None):
    """(uids of the slice in BFS order, hop distances, units trimmed, stubs).

    Stubs are trimmed module-level definitions a kept unit still reads: the adapter renders them
    as one line that keeps the name defined (Python: an import from the defining module)."""
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
    stubs: set[str] = set()
    kept = set(order)
    if max_tokens is not None and sum(unit(x).tokens for x in order) > max_tokens:
        total = unit(target).tokens
        kept = {target}
        for uid in order[1:]:  # BFS order is nondecreasing in hops: the tail is the farthest
            u = unit(uid)
            if u.kind == IMPORT:
                continue  # import lines come with whoever needs them, below
            if total + u.tokens <= max_tokens:
                kept.add(uid)
                total += u.tokens
    if max_tokens is not None or depth is not None:
        while True:
            _close(kept, unit, resolver)
            # a module-level definition cut by depth or budget but read by a kept unit: a stub
            new = {d for uid in kept if unit(uid).kind != IMPORT for d in resolver.deps(unit(uid))
                   if d not in kept and d not in stubs and unit(d).defines and not _in_class(unit, d)}
            if not new:
                break
            stubs |= new
            for d in new:  # a stub inside an `if`/`try` needs the block's headers
                p = unit(d).parent
                while p and p not in kept:
                    kept.add(p)
                    p = unit(p).parent
        stubs -= kept
    trimmed = len(set(order) - kept)
    order = [x for x in order if x in kept] + sorted(kept - set(order))
    return order, hops, max(trimmed, 0), stubs


def _close(kept: set[str], unit, resolver) -> None:
    """Add to `kept` the headers enclosing kept units and the import lines they read (fixpoint)."""
    todo = list(kept)
    while todo:
        u = unit(todo.pop())
        if u.parent and u.parent not in kept:
            kept.add(u.parent)
            todo.append(u.parent)
        for d in resolver.deps(u):
            if d not in kept and unit(d).kind == IMPORT:
                kept.add(d)
                todo.append(d)


def _in_class(unit, uid: str) -> bool:
    p = unit(uid).parent
    while p:
        if unit(p).kind == CLASS:
            return True
        p = unit(p).parent
    return False


def build_slice(target: str, resolver, files: dict[str, SourceFile], adapter, depth: int | None = None,
                max_tokens: int | None = None) -> Slice:
    uids, hops, trimmed, stubs = collect(target, resolver, depth, max_tokens)
    unit = resolver.unit
    t = unit(target)
    by_file: dict[str, set[str]] = {}
    far: dict[str, int] = {}
    for uid in list(uids) + sorted(stubs):
        u = unit(uid)
        by_file.setdefault(u.path, set()).add(uid)
        far[u.path] = max(far.get(u.path, 0), hops.get(uid, 0))
    # The target (its top-level container) goes last in its file unless a later unit needs it.
    top = t
    while top.parent:
        top = unit(top.parent)
    last = target
    for uid in by_file[t.path]:
        u = unit(uid)
        if u.start_byte > top.start_byte and u.parent is None and top.uid in resolver.deps(u):
            last = None
            break
    order = sorted((p for p in by_file if p != t.path), key=lambda p: (-far[p], p)) + [t.path]
    parts = []
    for path in order:
        body = adapter.render(files[path], by_file[path], last if path == t.path else None, resolver, stubs)
        parts.append(HEADER.format(path=path) + "\n" + body)
    header = list(dict.fromkeys(line for path in order for line in files[path].index.header))
    text = "\n".join(header) + ("\n\n" if header else "") + "\n\n".join(parts) + "\n"
    return Slice(
        text=text, tokens=count_tokens(text), file_tokens=sum(files[p].index.tokens for p in order),
        files=tuple(order), units=tuple(uids), trimmed=trimmed, stubs=tuple(sorted(stubs)),
    )
