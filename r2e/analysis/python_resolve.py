"""Python name resolution across a repository, and rendering of selected units as valid code.

Resolution handles absolute, relative, aliased and star imports, `from . import sub` (the
submodule), re-exports through `__init__.py`, `self.m()` / `cls.m()` / `super().m()` through in-repo
base classes, `Class()` to its `__init__`, and `module.f()` attribute calls. Module names come from
the package structure (the topmost folder holding an `__init__.py` chain), so src-layouts and nested
packages resolve; the plain path from the repository root is registered too when it is free.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from typing import Iterable

from r2e.analysis.records import ASSIGN, BLOCK, CLASS, FUNCTION, IMPORT, METHOD, SourceFile, Unit

CALLABLE = (FUNCTION, METHOD)


def module_names(paths: Iterable[str]) -> dict[str, list[str]]:
    """repo path -> candidate dotted module names (package-structure name first)."""
    paths = list(paths)
    init_dirs = {posixpath.dirname(p) for p in paths if posixpath.basename(p) == "__init__.py"}
    out: dict[str, list[str]] = {}
    for p in paths:
        parts = (p[:-3] if p.endswith(".py") else p).split("/")
        depth, d = 0, posixpath.dirname(p)
        while d and d in init_dirs:  # trailing folders that belong to the package chain
            depth += 1
            d = posixpath.dirname(d)
        dirs = parts[:-1]
        mod = dirs[len(dirs) - depth:] + parts[-1:]
        full = list(parts)
        if mod[-1] == "__init__":
            mod, full = mod[:-1], full[:-1]
        names = [".".join(mod)] if mod else []
        if full and ".".join(full) not in names:
            names.append(".".join(full))
        out[p] = names
    return out


def import_text(first: dict, items: list[dict]) -> str:
    """Source of an import statement holding the given items (all from one statement)."""
    indent = first.get("indent", "")
    if first["type"] == "import":
        return "\n".join(
            f"{indent}import {i['module']}" + (f" as {i['alias']}" if i.get("alias") else "") for i in items)
    mod = "." * first.get("level", 0) + first.get("module", "")
    if first["type"] == "star":
        return f"{indent}from {mod} import *"
    names = ", ".join(i["name"] + (f" as {i['alias']}" if i.get("alias") else "") for i in items)
    return f"{indent}from {mod} import {names}"


class PythonResolver:
    def __init__(self, files: dict[str, SourceFile]):
        self.files = files
        self.units: dict[str, Unit] = {}
        self.module_path: dict[str, str] = {}
        self.module_of: dict[str, str] = {}
        self.scope: dict[str, dict[str, list[str]]] = {}  # path -> name -> module-scope definers
        self.stars: dict[str, list[str]] = defaultdict(list)
        self.members: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        self.extra: dict[str, list[Unit]] = defaultdict(list)  # path -> synthesized units
        names = module_names(files)
        for path in sorted(files, key=lambda p: (p.count("/"), p)):
            for i, name in enumerate(names[path]):
                if name not in self.module_path:
                    self.module_path[name] = path
                    if i == 0:
                        self.module_of[path] = name
            self.module_of.setdefault(path, names[path][0] if names[path] else path)
        for path, sf in files.items():
            scope: dict[str, list[str]] = defaultdict(list)
            for u in sf.index.units:
                self.units[u.uid] = u
                parent = self.units.get(u.parent) if u.parent else None
                if u.info.get("class_scope") or u.kind == METHOD:
                    for n in u.defines:
                        self.members[u.parent][n].append(u.uid)
                    continue
                if parent is not None and parent.kind == CLASS:
                    continue
                if u.kind == IMPORT and u.info["imp"]["type"] == "star":
                    self.stars[path].append(u.uid)
                for n in u.defines:
                    scope[n].append(u.uid)
            self.scope[path] = scope
        self._deps: dict[str, list[str]] = {}
        self._chain: dict[tuple, tuple[list[str], list[str]]] = {}
        self._final: dict[str, list[str]] = {}

    # ------------------------------------------------------------------ modules
    def is_package(self, path: str) -> bool:
        return posixpath.basename(path) == "__init__.py"

    def resolve_module(self, path: str, level: int, module: str) -> str | None:
        """Absolute dotted name of `from <level dots><module>` written in `path`."""
        if not level:
            return module
        here = self.module_of.get(path, "")
        parts = here.split(".") if here else []
        if not self.is_package(path):
            parts = parts[:-1]
        if level - 1 > len(parts):
            return None
        base = parts[: len(parts) - (level - 1)]
        return ".".join(base + ([module] if module else [])) or None

    def import_target(self, u: Unit) -> tuple[str | None, str | None]:
        """(module the import binds, or None; the absolute module it reads from)."""
        imp = u.info["imp"]
        if imp["type"] == "import":
            mod = imp["module"]
            return (mod if imp.get("alias") else mod.split(".")[0]), mod
        base = self.resolve_module(u.path, imp.get("level", 0), imp.get("module", ""))
        if base is None:
            return None, None
        if imp["type"] == "star":
            return None, base
        sub = f"{base}.{imp['name']}"
        if sub in self.module_path:
            return sub, base
        return None, base

    # ------------------------------------------------------------------ names
    def lookup(self, path: str, name: str, seen: frozenset = frozenset()) -> list[str]:
        """uids that define `name` at module scope of `path` (star imports followed)."""
        found = self.scope.get(path, {}).get(name)
        if found:
            return list(found)
        if (path, name) in seen:
            return []
        seen = seen | {(path, name)}
        external_star = None
        for s in self.stars.get(path, ()):
            _, base = self.import_target(self.units[s])
            target = self.module_path.get(base) if base else None
            if target is None:
                external_star = external_star or s
                continue
            if f"{base}.{name}" in self.module_path or self.lookup(target, name, seen):
                return [self.star_item(s, name)]
        return [external_star] if external_star else []

    def star_item(self, star_uid: str, name: str) -> str:
        """A synthesized `from m import name` standing for one name read through `from m import *`."""
        uid = f"{star_uid}#{name}"
        if uid not in self.units:
            s = self.units[star_uid]
            imp = {**s.info["imp"], "type": "from", "name": name, "alias": None}
            u = Unit(uid=uid, path=s.path, kind=IMPORT, name="", qualname="", start_line=s.start_line,
                     end_line=s.end_line, start_byte=s.start_byte, end_byte=s.end_byte, defines=(name,),
                     parent=s.parent, clause=s.clause, tokens=4, info={"imp": imp})
            self.units[uid] = u
            self.extra[s.path].append(u)
        return uid

    def final(self, uid: str, seen: frozenset = frozenset()) -> list[str]:
        """Follow import units to what they finally denote (definitions, or 'module:<name>')."""
        if uid in self._final:
            return self._final[uid]
        u = self.units[uid]
        if u.kind != IMPORT:
            return [uid]
        if uid in seen:
            return []
        out: list[str] = []
        bound, base = self.import_target(u)
        imp = u.info["imp"]
        if bound is not None:
            out = [f"module:{bound}"]
        elif imp["type"] == "from" and base in self.module_path:
            for d in self.lookup(self.module_path[base], imp["name"]):
                out += self.final(d, seen | {uid})
        self._final[uid] = out
        return out

    def member(self, cls_uid: str, name: str, seen: frozenset = frozenset()) -> list[str]:
        """Class members named `name`, searched through in-repo base classes."""
        if cls_uid in seen:
            return []
        found = self.members.get(cls_uid, {}).get(name)
        if found:
            return list(found)
        cls = self.units.get(cls_uid)
        if cls is None or cls.kind != CLASS:
            return []
        for base in cls.info.get("bases", ()):
            for b in self.resolve(cls, base)[1]:
                if b in self.units and self.units[b].kind == CLASS:
                    got = self.member(b, name, seen | {cls_uid})
                    if got:
                        return got
        return []

    def enclosing_class(self, u: Unit) -> str | None:
        if u.kind == METHOD or u.info.get("class_scope"):
            return u.parent
        return None

    def resolve(self, u: Unit, chain: str) -> tuple[list[str], list[str]]:
        """(units the chain needs, what the whole chain denotes) read from unit `u`."""
        cls_uid = self.enclosing_class(u)
        self_name = u.info.get("self_name")
        key = (u.path, chain, cls_uid, self_name)
        if key in self._chain:
            return self._chain[key]
        parts = chain.split(".")
        head, rest = parts[0], parts[1:]
        deps: list[str] = []
        current: list[str] = []
        if head == "super()" and cls_uid:
            cls = self.units[cls_uid]
            if rest:
                for base in cls.info.get("bases", ()):
                    for b in self.resolve(cls, base)[1]:
                        if b in self.units and self.units[b].kind == CLASS:
                            deps += self.member(b, rest[0])
                current = list(deps)
            rest = rest[1:]
        elif cls_uid and head == self_name:
            if rest:
                deps = self.member(cls_uid, rest[0])
                current = [d for d in deps]
                rest = rest[1:]
        else:
            if cls_uid and u.kind != METHOD:  # class body: its own earlier names first
                deps = list(self.members.get(cls_uid, {}).get(head, ()))
            if not deps:
                deps = self.lookup(u.path, head)
            if not deps and cls_uid:  # decorators / defaults of a method read the class body
                deps = [m for m in self.members.get(cls_uid, {}).get(head, ()) if self.units[m].kind != METHOD]
            for d in deps:
                current += self.final(d)
        for attr in rest:
            nxt: list[str] = []
            for c in current:
                if c.startswith("module:"):
                    mod = c[7:]
                    if f"{mod}.{attr}" in self.module_path:
                        nxt.append(f"module:{mod}.{attr}")
                    elif mod in self.module_path:
                        found = self.lookup(self.module_path[mod], attr)
                        deps += found
                        for f in found:
                            nxt += self.final(f)
                elif c in self.units and self.units[c].kind == CLASS:
                    found = self.member(c, attr)
                    deps += found
                    nxt += found
            current = nxt
            if not current:
                break
        result = (list(dict.fromkeys(deps)), list(dict.fromkeys(current)))
        self._chain[key] = result
        return result

    # ------------------------------------------------------------------ the Resolver protocol
    def unit(self, uid: str) -> Unit:
        return self.units[uid]

    def extra_units(self, path: str) -> list[Unit]:
        return self.extra.get(path, [])

    def deps(self, u: Unit) -> list[str]:
        got = self._deps.get(u.uid)
        if got is not None:
            return got
        out: list[str] = []
        if u.parent:
            out.append(u.parent)
        if u.kind == IMPORT:
            imp = u.info["imp"]
            if imp["type"] == "from":
                _, base = self.import_target(u)
                if base in self.module_path and f"{base}.{imp['name']}" not in self.module_path:
                    out += self.lookup(self.module_path[base], imp["name"])
        else:
            for ref in u.refs:
                out += self.resolve(u, ref)[0]
            out += self.call_deps(u)
        out = list(dict.fromkeys(d for d in out if d != u.uid))
        self._deps[u.uid] = out
        return out

    def callees(self, u: Unit) -> list[str]:
        out: list[str] = []
        for call in u.calls:
            for f in self.resolve(u, call)[1]:
                target = self.units.get(f)
                if target is None:
                    continue
                if target.kind in CALLABLE:
                    out.append(f)
                elif target.kind == CLASS:
                    out += [m for m in self.member(f, "__init__") if self.units[m].kind == METHOD]
        return list(dict.fromkeys(c for c in out if c != u.uid))

    def call_deps(self, u: Unit) -> list[str]:
        """Constructors of classes `u` instantiates: slice members beyond the class header."""
        return [c for c in self.callees(u) if self.units[c].kind == METHOD and self.units[c].name == "__init__"]

    def module_edges(self) -> Iterable[tuple[str, str]]:
        seen = set()
        for u in self.units.values():
            if u.kind != IMPORT:
                continue
            bound, base = self.import_target(u)
            for mod in (bound, base):
                target = self.module_path.get(mod) if mod else None
                if target and target != u.path and (u.path, target) not in seen:
                    seen.add((u.path, target))
                    yield u.path, target


# ---------------------------------------------------------------------- rendering
def render(source: SourceFile, selected: set[str], last: str | None, extra: list[Unit] | None = None,
           stubs: set[str] | frozenset = frozenset(), module: str = "") -> str:
    """The selected units of one file as valid Python, in source order, `last`'s chain at the end."""
    lines = source.text.split("\n")
    units = [u for u in source.index.units if u.uid in selected or u.uid in stubs]
    units += [u for u in (extra or ()) if u.uid in selected]
    by_uid = {u.uid: u for u in source.index.units}
    chain: set[str] = set()
    cur = last
    while cur:
        chain.add(cur)
        cur = by_uid[cur].parent if cur in by_uid else None
    children: dict[str | None, list[Unit]] = defaultdict(list)
    for u in units:
        children[u.parent].append(u)
    for kids in children.values():
        kids.sort(key=lambda u: (u.uid in chain, u.start_byte, u.uid))
    out: list[str] = []

    def emit_list(kids: list[Unit]) -> None:
        i = 0
        while i < len(kids):
            u = kids[i]
            if u.kind == IMPORT:
                group = [u]
                while i + 1 < len(kids) and kids[i + 1].kind == IMPORT and \
                        kids[i + 1].info["imp"]["stmt"] == u.info["imp"]["stmt"] and \
                        kids[i + 1].info["imp"]["type"] == u.info["imp"]["type"]:
                    i += 1
                    group.append(kids[i])
                imps = list({(g.info["imp"].get("name"), g.info["imp"].get("module"), g.info["imp"].get("alias")): g.info["imp"] for g in group}.values())
                out.append(import_text(imps[0], imps))
            else:
                emit(u)
            i += 1

    def emit(u: Unit) -> None:
        info = u.info
        if u.uid in stubs:
            indent = ""
            if u.parent and u.parent in by_uid and by_uid[u.parent].kind == BLOCK:
                indent = by_uid[u.parent].info["clauses"][u.clause]["indent"]
            out.append(f"{indent}from {module} import {', '.join(u.defines)}  # trimmed: token budget")
        elif u.kind == CLASS and not info.get("oneline"):
            out.extend(lines[u.start_line - 1:info["header_end"]])
            kids = children.get(u.uid, [])
            if kids:
                emit_list(kids)
            else:
                out.append(info["indent"] + "pass")
        elif u.kind == BLOCK:
            kids = children.get(u.uid, [])
            for i, c in enumerate(info["clauses"]):
                out.extend(lines[c["start"] - 1:c["header_end"]])
                mine = [k for k in kids if k.clause == i]
                if mine:
                    emit_list(mine)
                else:
                    out.append(c["indent"] + "pass")
        else:
            out.extend(lines[u.start_line - 1:u.end_line])

    emit_list(children.get(None, []))
    return "\n".join(out)


__all__ = ["PythonResolver", "render", "import_text", "module_names", "ASSIGN"]
