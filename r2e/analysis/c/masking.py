"""Decoration macros: hide `ZEXPORT`, `local`, `OF((args))` ... from the parser, keep byte offsets.

Real C declares functions through macros the grammar cannot know: `int ZEXPORT deflate OF((...))`,
`local int f()` with `#define local static`, `MEM_STATIC`, `XXH_PUBLIC_API`. Before parsing, the
names of object-like macros whose every definition is empty / storage-class and qualifier keywords
/ `__attribute__((..))` / `__declspec(..)` / a bare identifier are overwritten with spaces (or with
their keyword body when it fits), and identity macros like `#define OF(args) args` (or ones that
only add keywords and attributes to their argument, `#define API(type) extern type`) lose their
name and outer parentheses. Offsets are unchanged, so unit text is cut from the original bytes; each
masked occurrence is reported so the unit using it still references (and slices) the macro.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple

from r2e.analysis.c.expand import Expander

DEFINE = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(\([^)\n]*\))?((?:[^\n]*\\\r?\n)*[^\n]*)", re.M)
ATTR = re.compile(rb"\[\[[^\]]*\]\]|(?:__(?:attribute|declspec)(?:__)?|_Pragma|__pragma)\s*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)")
KEYWORDS = {b"static", b"extern", b"inline", b"__inline", b"__inline__", b"const", b"volatile",
            b"register", b"__forceinline", b"_Noreturn", b"__extension__"}
POSTFIX_OP = re.compile(rb"^[*/%]\s*\(?\s*[\w(]")
C_WORDS = {b"const", b"signed", b"volatile", b"void", b"char", b"short", b"int", b"long", b"float",
           b"double", b"unsigned", b"static", b"extern", b"inline", b"register", b"auto", b"restrict"}
WORD = re.compile(rb"[A-Za-z_]\w*")
DEFINE_START = re.compile(rb"[ \t]*#[ \t]*define\b")
FCALL = re.compile(rb"\b([A-Za-z_]\w*)\s*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)")
COMMENT = re.compile(rb"/\*.*?\*/|//[^\n]*", re.S)
# `extern "C" {` and its lone `}` inside `#ifdef __cplusplus` make tree-sitter nest the whole header
EXTERN_C = re.compile(rb'extern\s*"C"\s*\{')
CPLUSPLUS_CLOSE = re.compile(rb"(#[ \t]*if[^\n]*__cplusplus[^\n]*\n[ \t]*)(\}[^\n]*)")
# `#if __has_include(<endian.h>)`: tree-sitter-c reads `<` as less-than and loses the #if nesting
# of the rest of the file (a string argument too); shown as `__has_include(_endian_h_)`, same width
HAS_INCLUDE = re.compile(rb"(__has_include(?:_next)?\s*\(\s*)<([^>\n]*)>")
NULL_DIRECTIVE = re.compile(rb"^[ \t]*#[ \t]*(?://[^\n]*|/\*[^\n]*\*/[ \t]*)?\r?$")  # a lone `#`: no-op


class MacroTable:
    def __init__(self) -> None:
        self.bodies: dict[bytes, list[bytes]] = {}  # object-like macros
        self.functions: dict[bytes, list[tuple[list[bytes], bytes]]] = {}  # function-like: (params, body)
        self.identity: set[bytes] = set()
        self.static_wrappers: set[bytes] = set()  # identity macros adding `static`

    def scan(self, data: bytes) -> None:
        for m in DEFINE.finditer(data):
            body = COMMENT.sub(b" ", re.sub(rb"\\\r?\n", b" ", m.group(3))).strip()
            name, params = m.group(1), m.group(2)
            if params is None:
                self.bodies.setdefault(name, []).append(body)
            else:
                ps = [p.strip() for p in params[1:-1].split(b",")]
                self.functions.setdefault(name, []).append((ps, body))
                if len(ps) == 1 and ps[0] and body in (ps[0], b"(" + ps[0] + b")"):
                    self.identity.add(name)
                elif len(ps) == 1 and ps[0]:
                    # `#define FFC_API(ret) extern ret`, `LOCAL(t) static inline t`: storage class,
                    # qualifiers and attributes around the type: to the parser, its argument alone
                    words = ATTR.sub(b" ", body).split()
                    if [w for w in words if w not in KEYWORDS] in ([ps[0]], [b"(" + ps[0] + b")"]):
                        self.identity.add(name)
                        if b"static" in words:
                            self.static_wrappers.add(name)

    def generators(self) -> set[bytes]:
        """Function-like macros whose expansion may define something (non-empty, not decorations)."""
        deco = self.function_decorations()
        return {n for n, defs in self.functions.items()
                if n not in deco and n not in self.identity and any(body for _, body in defs)}

    def expander(self) -> Expander:
        """An expander over the first non-empty definition of every macro (#if variants aside)."""
        functions = {}
        for name, defs in self.functions.items():
            params, body = next(((p, b) for p, b in defs if b), defs[0])
            functions[name.decode()] = ([p.decode() for p in params], body.decode("utf-8", "replace"))
        objects = {name.decode(): next((b for b in bodies if b), b"").decode("utf-8", "replace")
                   for name, bodies in self.bodies.items()}
        return Expander(functions, objects)

    def function_decorations(self) -> set[bytes]:
        """Function-like macros that only ever expand to attributes or nothing (`ZSTD_DEPRECATED(msg)`,
        `TARGET_ATTRIBUTE(t)`): the whole invocation is hidden from the parser."""
        out = set()
        for name, defs in self.functions.items():
            if len(name) < 3 or name in self.identity:
                continue
            if all(not [w for w in ATTR.sub(b" ", body).split() if w not in KEYWORDS] for _, body in defs):
                out.add(name)
        return out

    def decorations(self) -> dict[bytes, bytes]:
        """name -> replacement (keywords that fit in the name's width, else spaces)."""
        out: dict[bytes, bytes] = {}
        fdeco = self.function_decorations()
        changed = True
        while changed:  # a macro defined as another decoration macro is one too
            changed = False
            for name, bodies in self.bodies.items():
                if name in out:
                    continue
                rep = self._decoration(name, bodies, out, fdeco)
                if rep is not None:
                    out[name] = rep
                    changed = True
        return out

    def _decoration(self, name: bytes, bodies: list[bytes], known: dict, fdeco: set[bytes]) -> bytes | None:
        # `#define BMI2_TARGET_ATTRIBUTE TARGET_ATTRIBUTE("bmi2")`: a call of a decoration is one
        bodies = [FCALL.sub(lambda m: b" " if m.group(1) in fdeco else m.group(0), b) for b in bodies]
        if bodies and all(POSTFIX_OP.match(b) for b in bodies) and name not in C_WORDS:
            return b" " * len(name)  # `#define KB *(1 << 10)` used as `64 KB`: hide it from the parser
        if len(name) < 3 or name in self.identity or name in KEYWORDS or name in C_WORDS:
            return None
        plain = False
        for body in bodies:
            rest = ATTR.sub(b" ", body).split()
            if all(w in KEYWORDS or w in known for w in rest):
                plain = True
            elif not (len(rest) == 1 and WORD.fullmatch(rest[0])):
                return None
        if not plain:
            return None
        kw = next((b for b in bodies if b and all(w in KEYWORDS for w in b.split())), b"")
        kw = b" ".join(w for w in kw.split() if w in KEYWORDS)
        return kw.ljust(len(name)) if len(kw) <= len(name) else b" " * len(name)

    def key(self) -> str:
        """Changes whenever indexing a file could: what is hidden, and every definition the
        expansion of macro invocations reads (a macro changed anywhere re-indexes the repository)."""
        import hashlib

        h = hashlib.sha256()
        for k, v in sorted(self.decorations().items()):
            h.update(k + b"=" + v + b";")
        for k in sorted(self.identity):
            h.update(k + b"();")
        for k in sorted(self.function_decorations()):
            h.update(k + b"(...);")
        for k, bodies in sorted(self.bodies.items()):
            h.update(b"\0" + k + b"\0" + b"\1".join(bodies))
        for k, defs in sorted(self.functions.items()):
            h.update(b"\0" + k + b"(" + b"\1".join(b",".join(ps) + b")" + body for ps, body in defs))
        return h.hexdigest()[:12]


class Masked(NamedTuple):
    parsed: bytes  # the bytes the parser sees (same offsets as the source)
    occurrences: list  # masked decoration macros: (start, name, end)
    calls: list  # top-level macro invocations: (start, end, name)
    hidden: list  # identifiers in #if branches hidden from the parser: (start, name, end)
    groups: list  # #if groups reduced to their first branch: (#if start, hidden tail start, #endif end)


class Masker:
    def __init__(self, table: MacroTable):
        self.repl = table.decorations()
        self.static_names = {n for n, b in table.bodies.items() if n in self.repl and any(b"static" in x.split() for x in b)}
        self.static_names |= table.static_wrappers
        names = sorted(self.repl, key=len, reverse=True)
        self.deco_re = re.compile(rb"\b(" + b"|".join(map(re.escape, names)) + rb")\b") if names else None
        ids = sorted(table.identity, key=len, reverse=True)
        self.ident_re = re.compile(rb"\b(" + b"|".join(map(re.escape, ids)) + rb")\s*\(") if ids else None
        self.generators = {g.decode() for g in table.generators()}
        self.object_macros = {n.decode() for n in table.bodies}
        self.function_macros = {n.decode() for n in table.functions}
        self.table = table
        self._expander = None
        fdeco = sorted(table.function_decorations(), key=len, reverse=True)
        self.fdeco_re = re.compile(rb"\b(" + b"|".join(map(re.escape, fdeco)) + rb")\s*\(") if fdeco else None

    @property
    def expander(self) -> Expander:
        if self._expander is None:
            self._expander = self.table.expander()
        return self._expander

    def mask(self, data: bytes, invocations: bool = True) -> "Masked":
        """What the parser is shown, and what was hidden from it. Invocations are blanked: left in,
        they make tree-sitter swallow the declarations around them into ERROR nodes."""
        buf = bytearray(data)
        pre = preprocessor_spans(data)
        if b"__cplusplus" in data:
            for m in EXTERN_C.finditer(data):
                buf[m.start():m.end()] = b" " * (m.end() - m.start())
            for m in CPLUSPLUS_CLOSE.finditer(data):
                if not m.group(2).split(b"//")[0].split(b"/*")[0].strip(b"} \t\r"):
                    buf[m.start(2):m.start(2) + 1] = b" "
        for a, b in pre:
            line = data[a:b]
            if NULL_DIRECTIVE.match(line):
                _blank(buf, a, b)
            elif b"__has_include" in line:
                for m in HAS_INCLUDE.finditer(data, a, b):
                    for j in range(m.end(1), m.end()):
                        if not (48 <= buf[j] <= 57 or 65 <= buf[j] <= 90 or 97 <= buf[j] <= 122):
                            buf[j] = 95  # `_`
        layout = Layout(bytes(buf), pre)  # braces as the parser will see them (no extern "C" {)
        calls = top_level_invocations(data, self.generators, layout) if invocations and self.generators else []
        hidden: list[tuple[int, str, int]] = []  # identifiers of hidden branches: still references
        for a, b in layout.hidden:
            hidden += [(m.start(), m.group().decode(), m.end()) for m in WORD.finditer(data, a, b)]
            _blank(buf, a, b)
        for a, b, _ in calls:
            _blank(buf, a, b)
        for a, b in pre:  # a comment inside a #define ends tree-sitter's macro body early
            if b"/*" in data[a:b] and DEFINE_START.match(data, a):
                for m in COMMENT.finditer(data, a, b):
                    if not data[m.end():b].strip():  # a trailing comment is harmless; blanks are not
                        continue
                    for j in range(m.start(), min(m.end(), b)):
                        if buf[j] not in (10, 92):
                            buf[j] = 32
        for m in ATTR.finditer(data):  # `typedef __attribute__((aligned(1))) U16 u16;` defeats the parser
            if not _inside(pre, m.start()):
                _blank(buf, m.start(), m.end())
        if self.deco_re is None and self.ident_re is None and self.fdeco_re is None:
            return Masked(bytes(buf), [], calls, hidden, layout.groups)
        occ: list[tuple[int, str]] = []
        if self.deco_re is not None:
            for m in self.deco_re.finditer(data):
                if _inside(pre, m.start()):
                    continue
                buf[m.start():m.end()] = self.repl[m.group(1)]
                occ.append((m.start(), m.group(1).decode(), m.end()))
        if self.fdeco_re is not None:  # `ZSTD_DEPRECATED("...")`: the whole invocation goes
            for m in self.fdeco_re.finditer(data):
                close = None if _inside(pre, m.start()) else _match_paren(data, m.end() - 1)
                if close is None:
                    continue
                _blank(buf, m.start(), close + 1)
                occ.append((m.start(), m.group(1).decode(), close + 1))
        if self.ident_re is not None:
            for m in self.ident_re.finditer(data):
                if _inside(pre, m.start()):
                    continue
                close = _match_paren(data, m.end() - 1)
                if close is None:
                    continue
                buf[m.start():m.end()] = b" " * (m.end() - m.start())
                buf[close] = ord(" ")
                occ.append((m.start(), m.group(1).decode(), m.end()))
        return Masked(bytes(buf), occ, calls, hidden, layout.groups)


DIRECTIVE_WORD = re.compile(rb"[ \t]*#[ \t]*(\w+)")
SCAN = re.compile(rb'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|[{}]', re.S)
CALL_AT_LINE = re.compile(rb"^[ \t]*([A-Za-z_]\w*)[ \t]*\(", re.M)
NEXT_CALL = re.compile(rb"[ \t]*([A-Za-z_]\w*)[ \t]*\(")


class Layout:
    """Brace depth along a file as the parser is shown it, and the `#if` branches hidden from it.

    Inside a function body (or where an `#if` branch opens a brace it does not close) only the first
    branch of each `#if` group is kept for the parser: tree-sitter cannot follow a statement or a
    declaration head split across branches (`safe_decode:` before `#endif`, `... = {` in both
    branches). Depth is counted through that first branch only.
    """

    def __init__(self, data: bytes, pre: list[tuple[int, int]]):
        self.skip: list[tuple[int, int]] = list(pre)  # directives, comments, strings
        self.braces: list[tuple[int, int]] = []  # (position, depth after it)
        self.hidden: list[tuple[int, int]] = []  # byte ranges blanked for the parser
        self.groups: list[tuple[int, int, int]] = []  # (#if start, hidden tail start, #endif end)
        events = [(a, "dir", b) for a, b in pre]
        for m in SCAN.finditer(data):
            c = data[m.start()]
            if c in (123, 125):
                if not _inside(pre, m.start()):
                    events.append((m.start(), "brace", c))
            else:
                self.skip.append((m.start(), m.end()))
        events.sort()
        self.skip.sort()
        depth = 0
        stack: list[dict] = []
        for pos, kind, val in events:
            hiding = any(g["hide_from"] is not None for g in stack)  # in a branch the parser will not see
            if kind == "brace":
                if hiding:
                    continue
                depth = depth + 1 if val == 123 else max(0, depth - 1)
                self.braces.append((pos, depth))
                continue
            word = DIRECTIVE_WORD.match(data, pos)
            word = word.group(1) if word else b""
            if word in (b"if", b"ifdef", b"ifndef"):
                stack.append({"start": pos, "line_end": val, "depth": depth, "end_depth": None, "hide_from": None})
                continue
            if hiding and stack[-1]["hide_from"] is None:
                # the #else/#endif of a group nested in a hidden branch: only its nesting matters
                if word == b"endif":
                    stack.pop()
                continue
            if word in (b"elif", b"else") and stack:
                g = stack[-1]
                if g["hide_from"] is None:
                    g["end_depth"] = depth
                    g["hide_from"] = pos
                depth = g["depth"]
            elif word == b"endif" and stack:
                g = stack.pop()
                first_end = g["end_depth"] if g["hide_from"] is not None else depth
                if g["depth"] > 0 or first_end != g["depth"]:
                    tail = g["hide_from"] if g["hide_from"] is not None else pos  # other branches, #endif
                    self.hidden += [(g["start"], g["line_end"]), (tail, val)]
                    self.groups.append((g["start"], tail, val))
                    depth = first_end
                    self.braces.append((pos, depth))
                elif g["hide_from"] is not None:
                    depth = first_end  # balanced branches at file scope: all stay, depth is unchanged
        self.positions = [p for p, _ in self.braces]

    def depth_at(self, pos: int) -> int:
        i = bisect_right(self.positions, pos) - 1
        return self.braces[i][1] if i >= 0 else 0


def top_level_invocations(data: bytes, generators: set[str], layout: Layout) -> list[tuple[int, int, str]]:
    """`BROTLI_MIN_MAX(size_t)`, `C(sse3, 0)`: invocations of function-like macros standing alone at
    file scope (brace depth 0, after a `;`, `}` or `)` or at the start), as (start, end, name)."""
    skip = layout.skip
    depth_at = layout.depth_at

    def prev_char(pos: int) -> int | None:
        j = pos - 1
        while j >= 0:
            if data[j] in b" \t\r\n":
                j -= 1
                continue
            k = bisect_right(skip, (j, float("inf"))) - 1
            if k >= 0 and skip[k][0] <= j < skip[k][1]:
                j = skip[k][0] - 1
                continue
            return data[j]
        return None

    out: list[tuple[int, int, str]] = []
    for m in CALL_AT_LINE.finditer(data):
        name = m.group(1).decode()
        start = m.start(1)
        if name not in generators or _inside(skip, start) or depth_at(start) != 0:
            continue
        if out and out[-1][1] > start:
            continue
        if prev_char(start) not in (None, 59, 125, 41):  # ; } )
            continue
        while True:
            close = _match_paren(data, m.end() - 1)
            if close is None:
                break
            end = close + 1
            semi = re.match(rb"[ \t]*;", data[end:end + 64])
            if semi:
                end += semi.end()
            out.append((start, end, name))
            m = NEXT_CALL.match(data, end)  # `A(x) A(y)` on one line
            if m is None or m.group(1).decode() not in generators:
                break
            name, start = m.group(1).decode(), m.start(1)
    return out


def _blank(buf: bytearray, a: int, b: int) -> None:
    """Spaces over [a, b), newlines kept (offsets and line numbers stay the source's)."""
    for j in range(a, b):
        if buf[j] != 10:
            buf[j] = 32


def preprocessor_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every directive, continuation lines included."""
    spans = []
    for m in re.finditer(rb"^[ \t]*#(?:[^\n]*\\\r?\n)*[^\n]*", data, re.M):
        spans.append((m.start(), m.end()))
    return spans


def _inside(spans, pos: int) -> bool:
    from bisect import bisect_right

    i = bisect_right(spans, (pos, float("inf"))) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def _match_paren(data: bytes, i: int) -> int | None:
    depth = 0
    for j in range(i, min(len(data), i + 20000)):
        c = data[j]
        if c == 40:
            depth += 1
        elif c == 41:
            depth -= 1
            if depth == 0:
                return j
    return None
