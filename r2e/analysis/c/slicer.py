"""The slice of a C function: a self-contained translation unit.

Layout: feature-test macros (`_GNU_SOURCE` ...), the system includes of the files involved, forward
declarations of every struct/union tag used (so mutually referential types need no particular
order), then macros, types, globals and prototypes in dependency order (include order of the
target's file, fixed up topologically), then definitions of callees (breadth-first, while the
token budget allows; each brings what it needs), then the target. Units keep the `#if` conditions
they sit under, except the conditions the target itself sits under, which are assumed true.
Globals with large initializers, and globals defined in other files, are declared `extern`.
"""

from __future__ import annotations

import heapq
import re
from collections import deque
from dataclasses import dataclass, replace

from r2e.analysis.c.index import IDENT, CUnit, strip_comments
from r2e.analysis.c.repo import CRepo
from r2e.analysis.tokens import count_tokens

FEATURE_MACRO = re.compile(r"^_(?:[A-Z0-9]+_)*SOURCE$|^_FILE_OFFSET_BITS$|^_LARGEFILE\w*$")
MAX_CALLEE_CANDIDATES = 200
# what the compiler or platform defines, never the project: not switched on for a target under them
PLATFORM_NAMES = frozenset("WIN32 WIN64 WINDOWS WINAPI_FAMILY MSDOS OS2 UNIX LINUX VMS MACOS MACOSX AMIGA "
                           "CYGWIN MINGW ANDROID EMSCRIPTEN".split())
DEFINED_ONLY = re.compile(r"defined\s*\(?\s*([A-Za-z_]\w*)\s*\)?")
TAG_DEFINERS = ("struct", "union", "typedef", "global", "expansion")
# names of the standard library a header may use without including what defines them (it relies
# on its includer): the slice includes the standard header itself when no unit of it defines them
STD_NAMES = {
    "stdbool.h": "bool true false",
    "stddef.h": "size_t ptrdiff_t NULL offsetof max_align_t wchar_t",
    "stdint.h": """int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t intptr_t uintptr_t
                   intmax_t uintmax_t int_least8_t int_least16_t int_least32_t int_least64_t uint_least8_t
                   uint_least16_t uint_least32_t uint_least64_t int_fast8_t int_fast16_t int_fast32_t
                   int_fast64_t uint_fast8_t uint_fast16_t uint_fast32_t uint_fast64_t INT8_MAX INT16_MAX
                   INT32_MAX INT64_MAX UINT8_MAX UINT16_MAX UINT32_MAX UINT64_MAX SIZE_MAX INT32_MIN
                   INT64_MIN INTPTR_MAX UINTPTR_MAX""",
    "stdarg.h": "va_list va_start va_end va_arg va_copy",
    "sys/types.h": "ssize_t off_t",
    "stdio.h": "FILE",
    "limits.h": "CHAR_BIT INT_MAX INT_MIN UINT_MAX LONG_MAX LONG_MIN ULONG_MAX",
}
STD_HEADER_OF = {n: h for h, names in STD_NAMES.items() for n in names.split()}


@dataclass(frozen=True)
class CSlice:
    text: str
    tokens: int
    file_tokens: int
    files: tuple[str, ...]
    units: tuple[str, ...]
    callee_definitions: int
    trimmed: int  # callee definitions left out (budget or conflicts): only their prototypes


class Slicer:
    def __init__(self, repo: CRepo, max_tokens: int | None = 6000, depth: int | None = None):
        self.repo = repo
        self.max_tokens = max_tokens
        self.depth = depth
        self._conds: dict[str, set[str]] = {}
        self._part_tokens: dict[str, int] = {}
        self._std_used: dict[str, frozenset] = {}

    # ------------------------------------------------------------ closure
    def required(self, start: CUnit, target: CUnit, have: dict[str, CUnit]) -> dict[str, CUnit]:
        """Declarations `start` needs (transitively) that are not yet in `have`."""
        new: dict[str, CUnit] = {}
        todo = [start]
        while todo:
            u = todo.pop()
            for name in u.refs:
                # resolve in the translation unit being built first, then from the unit's own file
                found = self.repo.lookup(name, target.path)
                if not found and u.path != target.path:
                    found = self.repo.lookup(name, u.path)
                if len(found) > 1:
                    # an #if reads the macro where it stands; a macro body where the target expands it
                    at = u if name in self._cond_names(u) or (u.path == target.path and u.kind != "macro") else target
                    found = self._in_effect(found, at)
                for d in found:
                    if d.uid in have or d.uid in new or d.uid == start.uid or d.info.get("scoped"):
                        continue
                    if d.kind == "expansion" and d.name == u.name:
                        continue  # a generator's pasted names are what its invocations define
                    new[d.uid] = d
                    todo.append(d)
        return new

    @staticmethod
    def _in_effect(found: list[CUnit], at: CUnit) -> list[CUnit]:
        """A macro #defined (and #undef'd) several times under the same conditions in one file
        (zstd.c's DISPLAYLEVEL, once per amalgamated source): the definition in effect at `at`,
        i.e. the last one above it in its file (the last one from other files)."""
        groups: dict[tuple, list[CUnit]] = {}
        for d in found:
            # per name: a pasted name (`FFC_DOUBLE_##name`) finds every macro with its prefix
            groups.setdefault((d.path, d.conds, d.name) if d.kind == "macro" else (d.uid,), []).append(d)
        out = []
        for ds in groups.values():
            if len(ds) == 1:
                out += ds
                continue
            above = [d for d in ds if d.path != at.path or d.start_line <= at.start_line]
            out.append(max(above, key=lambda d: d.start_line) if above else min(ds, key=lambda d: d.start_line))
        return out

    def conflicts(self, new: dict[str, CUnit], have: dict[str, CUnit]) -> bool:
        """A unit from another file defining a name already defined differently in the slice."""
        defined: dict[str, CUnit] = {}
        for u in have.values():
            if u.kind in ("function", *TAG_DEFINERS):
                for n in u.defines:
                    defined.setdefault(n, u)
        for u in new.values():
            if u.kind not in ("function", *TAG_DEFINERS) or (u.kind == "global" and u.info.get("extern")):
                continue
            for n in u.defines:
                o = defined.get(n)
                if o is not None and o.uid != u.uid and o.path != u.path and o.conds == u.conds:
                    return True
        return False

    # ------------------------------------------------------------ slice
    def slice(self, target: CUnit) -> CSlice:
        have: dict[str, CUnit] = {target.uid: target}
        for u in self.system_includes(target.path):
            have[u.uid] = u
        for u in list(have.values()):
            have.update(self.required(u, target, have))
        tokens = sum(u.tokens for u in have.values())
        defs: list[CUnit] = []
        trimmed = 0
        if self.depth is None or self.depth > 1:
            queue = deque((c, 2) for c in self.repo.callees(target))
            seen = {target.uid}
            tried = 0
            while queue and tried < MAX_CALLEE_CANDIDATES:
                f, level = queue.popleft()
                if f.uid in seen:
                    continue
                seen.add(f.uid)
                tried += 1
                new = {u.uid: u for u in self.system_includes(f.path) if u.uid not in have}
                new[f.uid] = f
                for u in list(new.values()):
                    new.update(self.required(u, target, {**have, **new}))
                cost = sum(u.tokens for u in new.values())
                if (self.max_tokens is not None and tokens + cost > self.max_tokens) or self.conflicts(new, have):
                    trimmed += 1
                    continue
                have.update(new)
                tokens += cost
                defs.append(f)
                if self.depth is None or level < self.depth:
                    queue.extend((c, level + 1) for c in self.repo.callees(f))
        return self.render(target, have, defs, trimmed)

    def _cond_names(self, u: CUnit) -> set[str]:
        hit = self._conds.get(u.uid)
        if hit is None:
            hit = self._conds[u.uid] = {w for c in u.conds for w in IDENT.findall(c)}
        return hit

    def _tokens(self, text: str, u: CUnit | None = None) -> int:
        """Tokens of one part of the slice (a unit's own count when emitted as is)."""
        if u is not None and text == u.text:
            return u.tokens
        hit = self._part_tokens.get(text)
        if hit is None:
            hit = self._part_tokens[text] = count_tokens(text)
        return hit

    def system_includes(self, path: str) -> list[CUnit]:
        """`#include <...>` (and unresolvable quoted includes of system headers) of `path`'s closure."""
        out = []
        reach = self.repo.include_conds(path)
        for p in self.repo.closure(path):
            extra = reach.get(p, ())
            for u, r in self.repo.includes.get(p, ()):
                if r is None and u.info["system"]:
                    # a header included under `#ifdef _WIN32` brings its <windows.h> under it too
                    add = tuple(c for c in extra if c not in u.conds)
                    out.append(replace(u, conds=add + u.conds) if add else u)
        return out

    def render(self, target: CUnit, have: dict[str, CUnit], defs: list[CUnit], trimmed: int) -> CSlice:
        repo = self.repo
        rank = repo.rank(target.path)
        assumed = set(target.conds)
        files = {u.path for u in have.values()}
        # feature-test macros of every file involved go first (they change what system headers declare)
        features: dict[str, CUnit] = {}
        for p in list(repo.closure(target.path)) + sorted(files - set(rank)):
            for u in repo.files[p].units:
                if u.kind == "macro" and FEATURE_MACRO.match(u.name):
                    features.setdefault(u.name, u)
        tags = sorted({r for u in have.values() for r in (*u.refs, *u.defines)
                       if r.startswith(("struct:", "union:")) and not r.endswith("*")})
        def_uids = {d.uid for d in defs} | {target.uid}
        decls = [u for u in have.values() if u.uid not in def_uids and not (u.kind == "macro" and u.name in features)]
        ordered = self._order(decls, repo.flat_order(target.path))
        parts: list[tuple[str, CUnit | None]] = []
        # `#ifdef ZLIB_DEBUG` around the target: define the switch, so code the compiler reads under the
        # same switch (struct members, say) matches the target
        macros = {u.name for u in have.values() if u.kind == "macro"}
        switches = [m.group(1) for c in target.conds for m in [DEFINED_ONLY.fullmatch(c.strip())] if m]
        switches = [x for x in dict.fromkeys(switches) if x not in macros and not x.startswith("_")
                    and x.upper() not in PLATFORM_NAMES]
        if switches:
            parts.append(("\n".join(f"#define {x} 1" for x in switches), None))
        parts += [(self._wrap(u, u.text, assumed), u) for u in features.values()]
        std = self.standard_headers(have)
        if std:
            parts.append(("\n".join(f"#include <{h}>" for h in std), None))
        if tags:
            parts.append(("\n".join(t.replace(":", " ", 1) + ";" for t in tags), None))
        for u in ordered:
            parts.append((self._wrap(u, self._text(u, target, rank), assumed), u))
        for d in defs:
            parts.append((self._wrap(d, d.text + self._undefs(d), assumed), d))
        parts.append((target.text, target))
        text = "\n\n".join(p for p, _ in parts if p) + "\n"
        # the sum of the parts' counts (each cached): the same pre-tokenizer pieces as the whole text,
        # plus one per blank-line separator
        tokens = sum(self._tokens(p, u) for p, u in parts) + len(parts)
        used = sorted(files)
        return CSlice(
            text=text, tokens=tokens, file_tokens=sum(repo.files[p].tokens for p in used),
            files=tuple(used), units=tuple(sorted(have)), callee_definitions=len(defs), trimmed=trimmed,
        )

    def _undefs(self, f: CUnit) -> str:
        """`#undef` of the macros a body defines for itself (`#define ip (*_ip)`), as the source
        does after it: the definitions that follow in the slice must not see them."""
        names = [u.name for u in self.repo.files[f.path].units if u.kind == "macro" and u.info.get("scoped")
                 and f.start_line <= u.start_line <= f.end_line]
        return "".join(f"\n#undef {n}" for n in dict.fromkeys(names))

    def standard_headers(self, have: dict[str, CUnit]) -> list[str]:
        """Standard headers for `bool`, `size_t`, `uint8_t` ... that the slice uses and no unit of it
        defines (a header that relies on its includer for <stddef.h>). Read from the text: the
        grammar takes these names for primitive types, so they are no references."""
        defined = {n for u in have.values() for n in u.defines}
        used: set[str] = set()
        for u in have.values():
            names = self._std_used.get(u.uid)
            if names is None:
                names = self._std_used[u.uid] = frozenset(IDENT.findall(strip_comments(u.text))) & STD_HEADER_OF.keys()
            used |= names
        return sorted({STD_HEADER_OF[r] for r in used - defined})

    @staticmethod
    def _text(u: CUnit, target: CUnit, rank: dict[str, int]) -> str:
        if u.kind == "global" and "decl" in u.info:
            from r2e.analysis.c.index import BIG_INITIALIZER_TOKENS

            if u.tokens > BIG_INITIALIZER_TOKENS or u.path not in rank:
                return u.info["decl"]
        return u.text

    @staticmethod
    def _wrap(u: CUnit, text: str, assumed: set[str]) -> str:
        conds = [c for c in u.conds if c not in assumed]
        if not conds:
            return text
        # nested, as in the source: an inner #if of a skipped group is never evaluated
        opening = "\n".join(f"#if {c}" for c in conds)
        return f"{opening}\n{text}\n" + "\n".join("#endif" for _ in conds)

    @staticmethod
    def _expands_to(macro: CUnit, by_name: dict[str, list[CUnit]]) -> set[str]:
        """Non-macro units of the slice named by a macro's body, through nested macros."""
        out: set[str] = set()
        seen = {macro.uid}
        todo = [macro]
        while todo:
            m = todo.pop()
            for r in m.refs:
                for d in by_name.get(r, ()):
                    if d.uid in seen:
                        continue
                    seen.add(d.uid)
                    if d.kind == "macro":
                        todo.append(d)
                    else:
                        out.add(d.uid)
        return out

    def _order(self, units: list[CUnit], flat: dict[str, int]) -> list[CUnit]:
        """Preprocessing order of the target's translation unit, fixed so each unit follows what it
        references; units from outside it come after, includes first."""
        far = len(flat)

        def key(u: CUnit):
            if u.uid in flat:
                return (flat[u.uid], 0, "", 0, u.uid)
            kind_rank = -1 if u.kind == "include" else 0 if u.kind in ("macro", "struct", "union", "enum", "typedef") else 1 if u.kind in ("global", "expansion") else 2
            return (far, kind_rank, u.path, u.start_line, u.uid)

        by_name: dict[str, list[CUnit]] = {}
        for u in units:
            for n in u.defines:
                by_name.setdefault(n, []).append(u)
        deps: dict[str, set[str]] = {u.uid: set() for u in units}
        expands: dict[str, set[str]] = {}
        for u in units:
            # a macro body is only expanded where used: a macro follows only what its #if reads
            names = self._cond_names(u) if u.kind == "macro" else u.refs
            if u.kind == "typedef" and "{" not in u.text:
                # `typedef struct X X;` needs no definition of X (its tag is forward-declared at
                # the top); following it would close a cycle with `struct X { X *next; }`. Its
                # users follow the definition of X instead (one may hold an X by value)
                names = [r for r in names if not r.startswith(("struct:", "union:"))]
            conds = self._cond_names(u)
            own = set(u.defines)
            for r in names:
                if r in own:  # `#ifndef X` around `#define X`, or #if variants of one name
                    continue
                for d in by_name.get(r, ()):
                    if d.uid == u.uid:
                        continue
                    if r in conds and d.path == u.path and d.start_line > u.start_line:
                        # `#ifndef X` + `f()` ... later `#define X f()`: the test saw X undefined,
                        # so the definition of X must come after, as in the source
                        deps[d.uid].add(u.uid)
                    else:
                        deps[u.uid].add(d.uid)
                        if d.kind == "typedef" and "{" not in d.text:
                            deps[u.uid] |= {t.uid for tag in d.refs if tag.startswith(("struct:", "union:"))
                                            for t in by_name.get(tag, ()) if t.uid != u.uid}
                        if d.kind == "macro" and u.kind != "macro":
                            # `#define State StateInternal` used in a prototype: the prototype also
                            # follows what the macro expands to
                            if d.uid not in expands:
                                expands[d.uid] = self._expands_to(d, by_name)
                            deps[u.uid] |= expands[d.uid] - {u.uid}
        users: dict[str, list[str]] = {}
        for uid, ds in deps.items():
            for d in ds:
                users.setdefault(d, []).append(uid)
        byuid = {u.uid: u for u in units}
        heap = [(key(u), u.uid) for u in units if not deps[u.uid]]
        heapq.heapify(heap)
        waiting = {u.uid: len(deps[u.uid]) for u in units}
        done: set[str] = set()
        out: list[CUnit] = []
        while len(out) < len(units):
            if not heap:  # a cycle: release the earliest remaining unit
                rest = min((key(byuid[x]), x) for x in waiting if x not in done)
                heap.append(rest)
            _, uid = heapq.heappop(heap)
            if uid in done:
                continue
            done.add(uid)
            out.append(byuid[uid])
            for v in users.get(uid, ()):
                waiting[v] -= 1
                if waiting[v] == 0 and v not in done:
                    heapq.heappush(heap, (key(byuid[v]), v))
        return out
