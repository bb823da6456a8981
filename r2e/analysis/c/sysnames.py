"""The names a translation unit's system headers declare, as this machine's compiler sees them.

A call to `write` in a file that includes `<unistd.h>` is POSIX's `write`, even when some header
elsewhere in the repository (one the file never includes) declares a `write` of its own. To know
that, the system headers a file includes (transitively, through the repository's headers) are
preprocessed with `cc -E -dD` and the declared names collected with tree-sitter-c: functions,
variables, typedefs, enumerators, struct/union tags and macros. CRepo asks once for every system
header of the repository (a name none declares needs no more), then once per distinct set of a
file that uses such a name. Headers the machine lacks are skipped (`__has_include`); `has` tells
which ones it has. Without a compiler the sets are empty and resolution falls back to the
repository alone, as before.
"""

from __future__ import annotations

import os
import re
import subprocess

from r2e.analysis.c.index import TAG_KINDS, declarator_name

DEFINE = re.compile(r"^#define\s+([A-Za-z_]\w*)", re.M)
SAFE_HEADER = re.compile(r"[\w./+-]+")
TIMEOUT = 60


class SystemNames:
    def __init__(self, cc: str | None = None):
        self.cc = cc or os.environ.get("CC") or "cc"
        self._cache: dict[tuple[str, ...], frozenset[str]] = {}
        self._has: dict[str, bool] = {}
        self._parser = None

    def has(self, header: str) -> bool:
        """Does the machine have `<header>`? (Asked in batches: see `prefetch`.)"""
        if header not in self._has:
            self.prefetch([header])
        return self._has[header]

    def prefetch(self, headers) -> None:
        """Which of `headers` the machine has, in one compiler run."""
        todo = sorted({h for h in headers if h not in self._has})
        if not todo:
            return
        safe = [h for h in todo if SAFE_HEADER.fullmatch(h)]
        src = "".join(f'#if __has_include(<{h}>)\nR2E_HAS "{h}"\n#endif\n' for h in safe)
        found: set[str] = set()
        try:
            p = subprocess.run([self.cc, "-E", "-P", "-x", "c", "-"], input=src, capture_output=True, text=True,
                               timeout=TIMEOUT, errors="replace")
            if p.returncode == 0:
                found = set(re.findall(r'R2E_HAS "([^"]*)"', p.stdout))
        except (OSError, subprocess.TimeoutExpired):
            pass
        for h in todo:
            self._has[h] = h in found

    def names(self, headers) -> frozenset[str]:
        """Names declared by `#include <h>` for every h in `headers` (those the machine has)."""
        key = tuple(sorted({h for h in headers if SAFE_HEADER.fullmatch(h)}))
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._compute(key) if key else frozenset()
        return hit

    def _compute(self, headers: tuple[str, ...]) -> frozenset[str]:
        src = "".join(f"#if __has_include(<{h}>)\n#include <{h}>\n#endif\n" for h in headers)
        try:
            p = subprocess.run([self.cc, "-std=gnu11", "-E", "-dD", "-x", "c", "-"], input=src,
                               capture_output=True, text=True, timeout=TIMEOUT, errors="replace")
        except (OSError, subprocess.TimeoutExpired):
            return frozenset()
        if p.returncode != 0 and not p.stdout:  # an `#error` in one header still leaves the others' output
            return frozenset()
        return frozenset(DEFINE.findall(p.stdout)) | self._declared(p.stdout)

    def _declared(self, code: str) -> frozenset[str]:
        if self._parser is None:
            import tree_sitter_c as tsc
            from tree_sitter import Language, Parser

            self._parser = Parser(Language(tsc.language()))
        data = "\n".join(l for l in code.splitlines() if not l.startswith("#")).encode("utf-8", "replace")
        out: set[str] = set()

        def text(n) -> str:
            return data[n.start_byte:n.end_byte].decode("utf-8", "replace")

        def tags(t) -> None:
            if t is None or t.type not in TAG_KINDS:
                return
            name = t.child_by_field_name("name")
            if name is not None:
                out.add(f"{TAG_KINDS[t.type]}:{text(name)}")
            body = t.child_by_field_name("body")
            if t.type == "enum_specifier" and body is not None:
                for e in body.named_children:
                    nm = e.child_by_field_name("name") if e.type == "enumerator" else None
                    if nm is not None:
                        out.add(text(nm))

        for n in self._parser.parse(data).root_node.children:
            if n.type in ("declaration", "type_definition"):
                for d in n.children_by_field_name("declarator"):
                    ident = declarator_name(d)
                    if ident is not None:
                        out.add(text(ident))
                tags(n.child_by_field_name("type"))
            elif n.type in TAG_KINDS:
                tags(n)
            elif n.type == "function_definition":  # static inline helpers of the headers
                ident = declarator_name(n.child_by_field_name("declarator"))
                if ident is not None:
                    out.add(text(ident))
        return frozenset(out)
