"""Headers used as templates: `#define HASHER() H2` ... `#include "hash_quickly_inc.h"` ... `#undef`.

Some C libraries (brotli, stb-style code) instantiate a header several times with different macros
defined around the `#include`. The header alone defines nothing nameable (`FN(Init)`,
`struct HASHER()`); each inclusion does. A header without an include guard that is included more
than once, or right after a `#define`, is a template. Each of its inclusions becomes an `expansion`
unit of the including file whose text is self-contained: the macros the template reads, as defined
at that point of the including file (followed in source order through its #define/#undef lines),
then the template's text, then `#undef`s. Its `defines` are found by expanding the template with
those macros and indexing the result. The template file's own units are dropped: unexpanded, their
names mean nothing.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter

from r2e.analysis.c.index import C_KEYWORDS, IDENT, CFileIndex, CUnit, strip_comments
from r2e.analysis.c.includes import IncludeResolver
from r2e.analysis.c.masking import preprocessor_spans
from r2e.analysis.tokens import count_tokens

DIRECTIVE = re.compile(rb"^[ \t]*#[ \t]*(define|undef|include)\b[ \t]*((?:[^\n]*\\\r?\n)*[^\n]*)", re.M)
DEFINE_BODY = re.compile(r"([A-Za-z_]\w*)(\([^)]*\))?(.*)", re.S)
INCLUDE_TARGET = re.compile(rb'"([^"]+)"|<([^>]+)>')
GUARD = re.compile(r"^\s*#\s*(?:ifndef\s+(\w+)\s*#\s*define\s+\1\b|if\s+!\s*defined\s*\(?\s*(\w+)\s*\)?\s*#\s*define\s+\2\b)", re.M)
OWN_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)", re.M)
PRAGMA_ONCE = re.compile(r"^\s*#\s*pragma\s+once\b", re.M)


def _directive_body(raw: bytes) -> str:
    text = re.sub(rb"\\\r?\n", b" ", raw).decode("utf-8", "replace")
    return " ".join(strip_comments(text).split())


def _guarded(text: str) -> bool:
    code = strip_comments(text)
    # a guard anywhere: lz4.h opens with `extern "C"`, then guards its sections one by one
    return bool(GUARD.search(code) or PRAGMA_ONCE.search(code))


def _parse_define(text: str) -> tuple[str, list[str] | None, str, str] | None:
    """`NAME(a, b) body` (what follows `#define`, on one line) -> (name, params or None, body, the
    #define line)."""
    dm = DEFINE_BODY.match(text)
    if dm is None:
        return None
    params = [p.strip() for p in dm.group(2)[1:-1].split(",")] if dm.group(2) else None
    body = dm.group(3).strip()
    return dm.group(1), params, body, "#define " + dm.group(1) + (dm.group(2) or "") + (" " + body if body else "")


class _Site:
    __slots__ = ("includer", "template", "start", "line", "state")

    def __init__(self, includer, template, start, line, state):
        self.includer, self.template, self.start, self.line, self.state = includer, template, start, line, state


def find_sites(blobs: dict[str, bytes], resolver: IncludeResolver) -> tuple[list[_Site], set[str]]:
    """Every inclusion of a template header, with the including file's macros at that point."""
    raw_sites = []
    counts: Counter = Counter()  # (includer, header) -> inclusions
    for path, data in blobs.items():
        state: dict[str, tuple[list[str] | None, str, str]] = {}  # name -> (params, body, #define text)
        run: list[str] = []  # names of the #define lines directly above (only blanks/comments between)
        prev_end = -1
        for m in DIRECTIVE.finditer(data):
            kind, rest = m.group(1), m.group(2)
            adjacent = not strip_comments(data[prev_end + 1:m.start()].decode("utf-8", "replace")).strip()
            prev_end = m.end()
            if kind == b"define":
                parsed = _parse_define(_directive_body(rest))
                if parsed:
                    name, params, body, define = parsed
                    state[name] = (params, body, define)
                    run = (run if adjacent else []) + [name]
                continue
            if kind == b"undef":
                state.pop(_directive_body(rest).split(" ")[0], None)
                run = run if adjacent else []
                continue
            t = INCLUDE_TARGET.search(rest)
            resolved = None
            if t is not None:
                target = (t.group(1) or t.group(2)).decode("utf-8", "replace")
                resolved = resolver.resolve(path, target, t.group(2) is not None)
            if resolved is not None and resolved != path:
                counts[(path, resolved)] += 1
                line = data.count(b"\n", 0, m.start()) + 1
                raw_sites.append((path, resolved, m.start(), line, dict(state), set(run) if adjacent else set()))
            run = []
    reads: dict[str, set[str]] = {}  # template candidate -> macros it reads but does not define

    def parameters(r: str) -> set[str]:
        if r not in reads:
            text = strip_comments(blobs[r].decode("utf-8", "replace"))
            reads[r] = set() if _guarded(text) else set(IDENT.findall(text)) - set(OWN_DEFINE.findall(text))
        return reads[r]

    # a guardless header included again and again by one file, reading that file's macros, or
    # included right below #define lines of macros it reads
    templates = {r for p, r, _, _, state, run in raw_sites
                 if r in blobs and r.endswith((".h", ".inc"))
                 and ((counts[(p, r)] > 1 and parameters(r) & set(state)) or parameters(r) & run)}
    sites = [_Site(p, r, s, line, st) for p, r, s, line, st, _ in raw_sites if r in templates]
    return sites, templates


def instantiate(files: dict[str, CFileIndex], blobs: dict[str, bytes], resolver: IncludeResolver,
                indexer, masker) -> Counter:
    """Add one `expansion` unit per template inclusion; empty the template files. Returns counts."""
    stats: Counter = Counter()
    sites, templates = find_sites(blobs, resolver)
    if not sites:
        return stats
    base = masker.expander
    for site in sites:
        fi = files.get(site.includer)
        if fi is None or site.includer in templates:
            continue
        unit = _instance_unit(site, blobs[site.template].decode("utf-8", "replace"), fi, base, indexer, masker)
        at = next((i for i, u in enumerate(fi.units) if u.info.get("_s", -1) > site.start), len(fi.units))
        fi.units.insert(at, unit)
        stats["template_instances"] += 1
    for t in templates:
        if t in files:
            files[t].units = [u for u in files[t].units if u.kind == "include"]
            stats["template_files"] += 1
    return stats


def _instance_unit(site: _Site, template: str, fi: CFileIndex, base, indexer, masker) -> CUnit:
    code = strip_comments(template)
    needed = set(IDENT.findall(code))
    grew = True
    while grew:  # the macros the template reads, and those their bodies read
        grew = False
        for name in list(needed & set(site.state)):
            more = set(IDENT.findall(site.state[name][1])) - needed
            if more:
                needed |= more
                grew = True
    local = [n for n in site.state if n in needed]
    head = "\n".join(f"#undef {n}\n{site.state[n][2]}" for n in local)
    tail = "\n".join(f"#undef {n}" for n in local)
    text = (f"/* {site.template} as included by {site.includer}:{site.line} */\n" + (head + "\n" if head else "")
            + template.rstrip("\n") + ("\n" + tail if tail else ""))
    defines = _defined_names(template, site, base, indexer, masker)
    include = next((u for u in fi.units if u.kind == "include" and u.start_line == site.line), None)
    conds = include.conds if include is not None else ()
    refs = (needed | {w for c in conds for w in IDENT.findall(c)}) - set(local) - set(defines) - C_KEYWORDS - {"defined"}
    u = CUnit(uid=f"{site.includer}::instance:{posixpath.basename(site.template)}:{site.line}", path=site.includer,
              kind="expansion", name=posixpath.basename(site.template), start_line=site.line, end_line=site.line,
              text=text, defines=tuple(defines), refs=tuple(sorted(refs)), conds=conds, tokens=count_tokens(text),
              info={"_s": site.start, "template": site.template})
    return u


def _defined_names(template: str, site: _Site, base, indexer, masker) -> list[str]:
    """Names the template defines once expanded with the macros of this site (its own #define and
    #undef lines applied in order)."""
    exp = base.copy()
    for name, (params, body, _) in site.state.items():
        exp.define(name, params, body)
    out: list[str] = []
    pending: list[str] = []
    data = template.encode("utf-8")
    pos = 0
    for a, b in preprocessor_spans(data):
        pending.append(data[pos:a].decode("utf-8", "replace"))
        pos = b
        d = re.match(r"#\s*(define|undef)\s+(.*)", _directive_body(data[a:b].strip()), re.S)
        if d is None:
            continue
        out.append(exp.expand(strip_comments("".join(pending))))
        pending = []
        if d.group(1) == "undef":
            exp.undef(d.group(2).split(" ")[0])
        elif (parsed := _parse_define(d.group(2))) is not None:
            exp.define(*parsed[:3])
    pending.append(data[pos:].decode("utf-8", "replace"))
    out.append(exp.expand(strip_comments("".join(pending))))
    return indexer.defined_in("\n".join(out), masker)[0]
