"""A toy language plugged into the analysis seam, to prove the seam: one adapter + registration.

Source lines look like `fn NAME(ARGS) -> CALLEE CALLEE ...  # docstring`; `val NAME` defines a
constant that functions may read like a callee.
"""

from __future__ import annotations

import re

from r2e.analysis.records import ASSIGN, FUNCTION, FileIndex, FunctionFacts, Unit

LINE = re.compile(r"^(fn|val) (\w+)(?:\((.*?)\))?(?: -> ([\w ]*))?(?:\s*# (.*))?$")


class ToyResolver:
    def __init__(self, files):
        self.units = {u.uid: u for sf in files.values() for u in sf.index.units}
        self.by_name = {u.name: u.uid for u in self.units.values()}

    def unit(self, uid):
        return self.units[uid]

    def extra_units(self, path):
        return []

    def deps(self, u):
        return [self.by_name[r] for r in u.refs if r in self.by_name and self.by_name[r] != u.uid]

    def callees(self, u):
        return [d for d in self.deps(u) if self.units[d].kind == FUNCTION]

    def module_edges(self):
        return []


class ToyAdapter:
    name = "toy"
    extensions = (".toy",)
    cache_key = "toy-1"

    def index_file(self, path, data):
        text = data.decode()
        units = []
        for i, line in enumerate(text.split("\n"), 1):
            m = LINE.match(line)
            if not m:
                continue
            kind, name, args, calls, doc = m.groups()
            units.append(Unit(
                uid=f"{path}::{name}", path=path, kind=FUNCTION if kind == "fn" else ASSIGN, name=name,
                qualname=name, start_line=i, end_line=i, start_byte=0, end_byte=0, defines=(name,),
                refs=tuple((calls or "").split()), calls=tuple((calls or "").split()), tokens=len(line.split()),
                info={"docstring": doc or "", "signature": f"{kind} {name}({args or ''})", "n_params": len((args or "").split())},
            ))
        return FileIndex(path=path, lang="toy", units=tuple(units), lines=text.count("\n"), tokens=len(text.split())), text

    def resolver(self, files):
        return ToyResolver(files)

    def render(self, source, selected, last, resolver, stubs):
        lines = source.text.split("\n")
        units = sorted((u for u in source.index.units if u.uid in selected), key=lambda u: (u.uid == last, u.start_line))
        return "\n".join(lines[u.start_line - 1] for u in units)

    def file_header(self, path):
        return f"// {path}"

    def is_extractable(self, unit):
        return unit.kind == FUNCTION

    def facts(self, unit, source):
        return FunctionFacts(name=unit.name, kind=unit.kind, lines=1, docstring=unit.info["docstring"],
                             n_params=unit.info["n_params"], returns_value=True, only_literal_returns=False,
                             decorators=(), allowed_decorators=(), delegating=False, text=unit.name)
