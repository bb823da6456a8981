"""A C repository's symbol tables, include graph and call graph, with static scoping.

A name used in file F resolves, in order, to: macros visible from F (F and the headers it includes,
transitively), other declarations visible from F (the first file in include order that declares
it), then, unless a system header F includes (transitively) declares it (`write` from <unistd.h>,
see sysnames.py), non-`static` definitions anywhere in the repository (a function defined in
another `.c` file and called through a prototype, or a header that could not be located). `static` functions
and variables never resolve outside their file (and the files that include it), so two
`static int helper()` in two files are two nodes.
"""

from __future__ import annotations

import posixpath

import networkx as nx

from r2e.analysis.c.includes import IncludeResolver
from r2e.analysis.c.index import IDENT, CFileIndex, CUnit
from r2e.analysis.c.sysnames import SystemNames

MAX_PASTED = 64
DECL_KINDS = ("macro", "typedef", "struct", "union", "enum", "global", "prototype", "fproto", "expansion")


class CRepo:
    def __init__(self, files: dict[str, CFileIndex], inc_dirs: list[str], system_dirs: list[str] | None = None,
                 system_names: SystemNames | None = None):
        self.files = files
        self.units: dict[str, CUnit] = {}
        self.by_name: dict[str, list[CUnit]] = {}  # declared name -> declaring units
        self.funcs: dict[str, list[CUnit]] = {}  # function name -> definitions
        self.sysnames = system_names if system_names is not None else SystemNames()
        if system_dirs is not None and system_dirs != inc_dirs:
            self.sysnames.prefetch({u.info["target"] for fi in files.values() for u in fi.units
                                    if u.kind == "include" and u.info["system"]})
        self.inc = IncludeResolver(sorted(files), inc_dirs, system_dirs, self.sysnames.has)
        self.includes: dict[str, list[tuple[CUnit, str | None]]] = {}
        self.unresolved_includes = 0
        for path, fi in files.items():
            incs = []
            for u in fi.units:
                self.units[u.uid] = u
                if u.kind == "include":
                    r = self.inc.resolve(path, u.info["target"], u.info["system"])
                    if r is None and not u.info["system"]:
                        self.unresolved_includes += 1
                    incs.append((u, r))
                elif u.kind == "function":
                    self.funcs.setdefault(u.name, []).append(u)
                elif u.kind in DECL_KINDS:
                    for n in u.defines:
                        self.by_name.setdefault(n, []).append(u)
            self.includes[path] = incs
        self._closure: dict[str, list[str]] = {}
        self._rank: dict[str, dict[str, int]] = {}
        self._flat: dict[str, dict[str, int]] = {}
        self._inc_conds: dict[str, dict[str, tuple[str, ...]]] = {}
        self._below: dict[str, set[str]] = {}
        self._lookups: dict[tuple[str, str], list[CUnit]] = {}
        self.system_resolved = 0  # names left to the system headers instead of an unrelated file
        self._sys_names: dict[str, frozenset[str]] = {}
        self._sys_all: frozenset[str] | None = None

    def system_declares(self, name: str, path: str) -> bool:
        """Does a system header that `path` includes (transitively) declare `name`?"""
        if self._sys_all is None:  # one compiler run for every system header of the repository first:
            # most names no system header declares, and then no file's own set is needed
            self._sys_all = self.sysnames.names({u.info["target"] for incs in self.includes.values()
                                                 for u, r in incs if r is None and u.info["system"]})
        if name not in self._sys_all:
            return False
        names = self._sys_names.get(path)
        if names is None:
            headers = [u.info["target"] for p in self.closure(path) for u, r in self.includes.get(p, ())
                       if r is None and u.info["system"]]
            names = self._sys_names[path] = self.sysnames.names(headers)
        return name in names

    # ------------------------------------------------------------ include graph
    def closure(self, path: str) -> list[str]:
        """Repo files visible from `path`: its includes, transitively, in include order, then itself."""
        if path in self._closure:
            return self._closure[path]
        out: list[str] = []
        seen = {path}

        def visit(p: str) -> None:
            for _, r in self.includes.get(p, ()):
                if r is not None and r not in seen:
                    seen.add(r)
                    visit(r)
                    out.append(r)

        visit(path)
        out.append(path)
        self._closure[path] = out
        return out

    def include_conds(self, path: str) -> dict[str, tuple[str, ...]]:
        """file of `path`'s closure -> the #if conditions its inclusion sits under (`#ifdef _WIN32`
        + `#include "iowin32.h"`); () when some path includes it unconditionally."""
        hit = self._inc_conds.get(path)
        if hit is not None:
            return hit
        out: dict[str, tuple[str, ...]] = {path: ()}
        todo = [path]
        while todo:
            p = todo.pop()
            for u, r in self.includes.get(p, ()):
                if r is None:
                    continue
                # a guard the included file defines itself (`#ifndef LZ4_SRC_INCLUDED` +
                # `#include "lz4.c"`) would read false once the slice holds that #define
                own = self._macros_below(r)
                conds = tuple(c for c in dict.fromkeys(out[p] + u.conds) if not (set(IDENT.findall(c)) & own))
                old = out.get(r)
                if old is None or (len(conds) < len(old) and set(conds) <= set(old)):
                    out[r] = conds
                    todo.append(r)
        self._inc_conds[path] = out
        return out

    def _macros_below(self, path: str) -> set[str]:
        hit = self._below.get(path)
        if hit is None:
            hit = self._below[path] = {u.name for p in self.closure(path) for u in self.files[p].units if u.kind == "macro"}
        return hit

    def flat_order(self, path: str) -> dict[str, int]:
        """uid -> position in the translation unit of `path` as the preprocessor would read it."""
        if path in self._flat:
            return self._flat[path]
        order: dict[str, int] = {}
        seen: set[str] = set()

        def visit(p: str) -> None:
            seen.add(p)
            resolved = {u.uid: r for u, r in self.includes.get(p, ())}
            for u in self.files[p].units:
                order.setdefault(u.uid, len(order))
                r = resolved.get(u.uid)
                if r is not None and r not in seen:
                    visit(r)

        visit(path)
        self._flat[path] = order
        return order

    def rank(self, path: str) -> dict[str, int]:
        if path not in self._rank:
            self._rank[path] = {p: i for i, p in enumerate(self.closure(path))}
        return self._rank[path]

    def module_edges(self):
        for p, incs in self.includes.items():
            for _, r in incs:
                if r is not None:
                    yield p, r

    # ------------------------------------------------------------ names
    def lookup(self, name: str, path: str) -> list[CUnit]:
        """Declarations of `name` visible from `path` (all #if variants from the nearest file)."""
        key = (name, path)
        hit = self._lookups.get(key)
        if hit is None:
            hit = self._lookups[key] = self._lookup(name, path)
        return hit

    def _lookup(self, name: str, path: str) -> list[CUnit]:
        if name.endswith("*"):  # a name pasted in a macro body: every name with that prefix
            names = [n for n in self.by_name if n.startswith(name[:-1])]
            if len(names) > MAX_PASTED:  # too generic a prefix to be worth the context
                return []
            return [u for n in names for u in self.lookup(n, path)]
        cands = self.by_name.get(name)
        if not cands:
            return []
        rank = self.rank(path)
        vis = [u for u in cands if u.path in rank]
        macros = [u for u in vis if u.kind == "macro"]
        if macros:
            if any(not m.conds for m in macros):
                return macros
            vis = [u for u in vis if u.kind != "macro"]  # `#ifdef Z_PREFIX #define uLong z_uLong`
            if not vis:
                return macros
        else:
            macros = []
        if vis:
            every = vis
            protos = [u for u in vis if u.kind in ("prototype", "global")]
            if protos and any(u.kind == "fproto" for u in vis):
                # a declared function: its header prototype, not the definition's, unless the
                # prototype sits under conditions the definition does not (`#if XXH_VECTOR == NEON`)
                vis = protos + [u for u in vis if u.kind == "fproto" and not any(set(p.conds) <= set(u.conds) for p in protos)]
            near = self._nearest(vis, rank)
            if all(u.conds for u in near):  # every variant conditional: keep unconditional ones too
                near += [u for u in every if not u.conds and u not in near]
            return macros + near
        # not visible: a non-static definition elsewhere (declarations in headers first)
        # (a macro that is not visible is undefined in this translation unit, as for the compiler)
        out = [u for u in cands if not u.static and u.kind != "macro"]
        if not out:
            return []
        if self.system_declares(name, path):  # the TU's own <unistd.h> `write`, not another file's
            self.system_resolved += 1
            return []
        out.sort(key=lambda u: (not u.path.endswith(".h"), self._distance(path, u.path), u.path, u.start_line))
        best = out[0].path
        return [u for u in out if u.path == best]

    @staticmethod
    def _distance(a: str, b: str) -> int:
        da, db = posixpath.dirname(a).split("/"), posixpath.dirname(b).split("/")
        common = 0
        for x, y in zip(da, db):
            if x != y:
                break
            common += 1
        return len(da) + len(db) - 2 * common

    @staticmethod
    def _nearest(units: list[CUnit], rank: dict[str, int]) -> list[CUnit]:
        best = min(rank[u.path] for u in units)
        return [u for u in units if rank[u.path] == best]

    def function_of(self, name: str, path: str) -> CUnit | None:
        """The definition a call to `name` from `path` reaches (static scoping), or None."""
        defs = [u for u in self.funcs.get(name, ()) if not u.info.get("variant")]
        if not defs:
            return None
        rank = self.rank(path)
        local = [u for u in defs if u.path == path] or [u for u in defs if u.path in rank]
        if local:
            return local[0]
        ext = [u for u in defs if not u.static]
        if not ext or self.system_declares(name, path):
            return None
        ext.sort(key=lambda u: (self._distance(path, u.path), u.path))
        return ext[0]

    def callees(self, unit: CUnit, _depth: int = 0) -> list[CUnit]:
        """Functions `unit` calls, directly or through the function-like macros it invokes."""
        out: dict[str, CUnit] = {}
        for name in unit.calls:
            macros = [m for m in self.lookup(name, unit.path) if m.kind == "macro"]
            if macros:
                if _depth < 4:
                    for m in macros:
                        for f in self.callees(m, _depth + 1):
                            out.setdefault(f.uid, f)
                continue
            f = self.function_of(name, unit.path)
            if f is not None and f.uid != unit.uid:
                out.setdefault(f.uid, f)
        return list(out.values())

    def macro_calls(self, unit: CUnit) -> list[CUnit]:
        out = []
        for name in unit.calls:
            out += [m for m in self.lookup(name, unit.path) if m.kind == "macro"]
        return out

    # ------------------------------------------------------------ graph
    def graph(self, repo_id: str) -> nx.DiGraph:
        g = nx.DiGraph(repo=repo_id)
        for path, fi in sorted(self.files.items()):
            mod = f"{repo_id}/{path}"
            g.add_node(mod, kind="module", lang="c", path=path, lines=fi.lines)
            for u in fi.units:
                if u.kind in ("function", "macro"):
                    node = f"{repo_id}/{u.uid}"
                    g.add_node(node, kind=u.kind, lang="c", path=path, name=u.name, static=u.static,
                               start_line=u.start_line, end_line=u.end_line)
                    g.add_edge(mod, node, kind="contains")
        for src, dst in self.module_edges():
            g.add_edge(f"{repo_id}/{src}", f"{repo_id}/{dst}", kind="includes")
        for u in self.units.values():
            if u.kind not in ("function", "macro"):
                continue
            for m in self.macro_calls(u):
                g.add_edge(f"{repo_id}/{u.uid}", f"{repo_id}/{m.uid}", kind="expands")
            for name in u.calls:
                if any(m.kind == "macro" for m in self.lookup(name, u.path)):
                    continue
                f = self.function_of(name, u.path)
                if f is not None:
                    g.add_edge(f"{repo_id}/{u.uid}", f"{repo_id}/{f.uid}", kind="calls")
        return g
