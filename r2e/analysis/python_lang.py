"""Python adapter: tree-sitter index of a file, import resolution, slice rendering, filter facts.

Module-level statements become units; statements nested in module-level `if`/`try` keep their
enclosing block (a BLOCK unit holding the clause headers) so a slice re-emits valid, correctly
indented code. Classes become a header unit plus one unit per method / class attribute.
References, calls and local bindings come from `r2e/queries/python.scm`.
"""

from __future__ import annotations

import ast
import hashlib
import re
from bisect import bisect_right
from importlib.metadata import PackageNotFoundError, version

from r2e.analysis import python_resolve
from r2e.analysis.languages import load_query
from r2e.analysis.records import (
    ASSIGN, BLOCK, CLASS, FUNCTION, IMPORT, METHOD, STATEMENT, FileIndex, FunctionFacts, SourceFile, Unit,
)
from r2e.analysis.tokens import count_tokens

SCHEMA = 6
DOTTED = re.compile(r"^(?:super\(\)|[A-Za-z_]\w*)(?:\.[A-Za-z_]\w*)*$")
STRING = re.compile(r"""([\"'])(.*?)\1""")
NAME_IN_STRING = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
LITERAL_TYPES = {"integer", "float", "string", "concatenated_string", "true", "false", "none"}
ALLOWED_DECORATORS = ("staticmethod", "classmethod", "property", "*.setter", "*.getter", "*.deleter",
                      "functools.wraps", "abstractmethod", "abc.abstractmethod")
BLOCK_TYPES = {"if_statement", "try_statement"}
OTHER_COMPOUND = {"for_statement", "while_statement", "with_statement", "match_statement"}


def _grammar_version() -> str:
    try:
        return version("tree-sitter-python")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
        return "unknown"


def decode(data: bytes) -> tuple[str, str]:
    """Decode source bytes: UTF-8, else the PEP 263 coding cookie, else latin-1 (never fails)."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    for line in data.split(b"\n", 2)[:2]:
        m = CODING.match(line)
        if m:
            enc = m.group(1).decode("ascii", "replace")
            try:
                return data.decode(enc), enc
            except (LookupError, UnicodeDecodeError):
                break
    return data.decode("latin-1"), "latin-1"


class _Pending:
    """A unit under construction plus the captures that fall in its own byte ranges."""

    __slots__ = ("kw", "ranges", "body_start", "own_name", "sig_names", "names", "chains", "calls", "locals", "globals", "returns", "yields")

    def __init__(self, **kw):
        self.kw = kw
        self.ranges: list[tuple[int, int]] = []
        self.body_start = -1  # functions: names before this byte (signature, decorators) are module-scope
        self.sig_names: set[str] = set()
        self.own_name = -1  # byte offset of a function's own name (not a local of its body)
        self.names: set[str] = set()
        self.chains: set[str] = set()
        self.calls: set[str] = set()
        self.locals: set[str] = set()
        self.globals: set[str] = set()
        self.returns: list[str | None] = []  # type of each returned expression (None: bare return)
        self.yields = False


class PythonAdapter:
    name = "python"
    extensions = (".py",)

    def __init__(self) -> None:
        import tree_sitter_python as tsp
        from tree_sitter import Language, Parser, Query

        self.language = Language(tsp.language())
        self.parser = Parser(self.language)
        query_src = load_query("python")
        self.query = Query(self.language, query_src)
        digest = hashlib.sha256(query_src.encode()).hexdigest()[:12]
        self.cache_key = f"python-{_grammar_version()}-{digest}-s{SCHEMA}"

    # ------------------------------------------------------------------ indexing
    def index_file(self, path: str, data: bytes) -> tuple[FileIndex, str]:
        text, encoding = decode(data)
        tree = self.parser.parse(data)
        builder = _Builder(path, data, encoding)
        builder.module(tree.root_node)
        self._bucket(tree.root_node, builder)
        tokens = count_tokens(text)
        units = builder.finish(text, tokens)
        lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        index = FileIndex(
            path=path, lang=self.name, units=tuple(units), lines=lines, tokens=tokens,
            syntax_error=tree.root_node.has_error, skipped_units=builder.skipped, encoding=encoding,
            header=tuple(builder.future),
        )
        return index, text

    def _bucket(self, root, builder: "_Builder") -> None:
        from tree_sitter import QueryCursor

        spans = sorted((s, e, p) for p in builder.pending for (s, e) in p.ranges)
        starts = [s for s, _, _ in spans]
        if not spans:
            return

        def owner(node):
            i = bisect_right(starts, node.start_byte) - 1
            if i >= 0 and node.end_byte <= spans[i][1]:
                return spans[i][2]
            return None

        data, enc = builder.data, builder.enc
        caps = QueryCursor(self.query).captures(root)
        ignored = {n.start_byte for n in caps.get("ignore", ())}
        binders = {n.start_byte for n in caps.get("local", ())}
        for n in caps.get("reference.name", ()):
            if n.start_byte in ignored:
                continue
            p = owner(n)
            if p is not None:
                if n.start_byte in binders:
                    continue
                name = data[n.start_byte:n.end_byte].decode(enc, "replace")
                (p.sig_names if n.start_byte < p.body_start else p.names).add(name)
        for n in caps.get("reference.attribute", ()):
            p = owner(n)
            if p is not None:
                t = data[n.start_byte:n.end_byte].decode(enc, "replace")
                if DOTTED.match(t):
                    p.chains.add(t)
        for n in caps.get("reference.call", ()):
            p = owner(n)
            if p is not None:
                t = data[n.start_byte:n.end_byte].decode(enc, "replace")
                if DOTTED.match(t):
                    p.calls.add(t)
        for n in caps.get("reference.type", ()):
            p = owner(n)
            if p is not None and (b'"' in data[n.start_byte:n.end_byte] or b"'" in data[n.start_byte:n.end_byte]):
                for lit in STRING.findall(data[n.start_byte:n.end_byte].decode(enc, "replace")):
                    for name in NAME_IN_STRING.findall(lit[1]):
                        (p.sig_names if n.start_byte < p.body_start else p.names).add(name.split(".")[0])
                        if "." in name:
                            p.chains.add(name)
        for key, attr in (("local", "locals"), ("global", "globals")):
            for n in caps.get(key, ()):
                p = owner(n)
                if p is not None and n.start_byte != p.own_name:
                    getattr(p, attr).add(data[n.start_byte:n.end_byte].decode(enc, "replace"))
        for n in caps.get("return", ()):
            p = owner(n)
            if p is not None:
                value = n.named_children[0] if n.named_child_count else None
                p.returns.append(None if value is None else value.type)
        for n in caps.get("yield", ()):
            p = owner(n)
            if p is not None:
                p.yields = True

    # ------------------------------------------------------------------ resolution / rendering
    def resolver(self, files: dict[str, SourceFile]):
        return python_resolve.PythonResolver(files)

    def render(self, source: SourceFile, selected: set[str], last: str | None, resolver, stubs=frozenset()) -> str:
        return python_resolve.render(source, selected, last, resolver.extra_units(source.path), stubs,
                                     resolver.module_of.get(source.path, ""))

    def is_extractable(self, unit: Unit) -> bool:
        return unit.kind in (FUNCTION, METHOD) and bool(unit.info.get("extractable"))

    def facts(self, unit: Unit, source: SourceFile) -> FunctionFacts:
        info = unit.info
        lines = source.text.split("\n")[unit.start_line - 1:unit.end_line]
        return FunctionFacts(
            name=unit.name, kind=unit.kind, lines=unit.end_line - unit.start_line + 1,
            docstring=info.get("docstring", ""), n_params=info.get("n_params", 0),
            returns_value=info.get("returns_value", False),
            only_literal_returns=info.get("only_literal_returns", False),
            decorators=tuple(info.get("decorators", ())), allowed_decorators=ALLOWED_DECORATORS,
            delegating=info.get("delegating", False), text="\n".join(lines),
        )


class _Builder:
    """Walks the module's statement structure and creates pending units."""

    def __init__(self, path: str, data: bytes, encoding: str = "utf-8"):
        self.path, self.data, self.enc = path, data, encoding
        self.pending: list[_Pending] = []
        self.skipped = 0
        self.future: list[str] = []
        self.used_uids: set[str] = set()

    def txt(self, node) -> str:
        return self.data[node.start_byte:node.end_byte].decode(self.enc, "replace")

    def uid(self, key: str, line: int) -> str:
        uid = f"{self.path}::{key}"
        if uid in self.used_uids:
            uid = f"{uid}@L{line}"
        self.used_uids.add(uid)
        return uid

    def add(self, node, kind: str, key: str, **kw) -> _Pending:
        start = kw.pop("start", node)
        p = _Pending(
            uid=self.uid(key, start.start_point[0] + 1), kind=kind,
            start_line=start.start_point[0] + 1, end_line=node.end_point[0] + 1,
            start_byte=start.start_byte, end_byte=node.end_byte, **kw,
        )
        self.pending.append(p)
        return p

    # ---- module level
    def module(self, root) -> None:
        for child in root.named_children:
            self.statement(child, None, 0)

    def statement(self, node, parent: str | None, clause: int) -> bool:
        """Index one module-level statement; return whether it produced a unit."""
        t = node.type
        if t == "comment":
            return False
        if t == "ERROR" or (node.has_error and t not in ("class_definition", "decorated_definition")):
            self.skipped += 1
            return False
        line = node.start_point[0] + 1
        if t == "decorated_definition":
            inner = node.child_by_field_name("definition")
            if inner is None or inner.has_error and inner.type != "class_definition":
                self.skipped += 1
                return False
            if inner.type == "function_definition":
                self.function(inner, node, None, parent, clause)
                return True
            return self.klass(inner, node, parent, clause)
        if t == "function_definition":
            self.function(node, node, None, parent, clause)
            return True
        if t == "class_definition":
            return self.klass(node, node, parent, clause)
        if t in ("import_statement", "import_from_statement"):
            return self.imports(node, parent, clause)
        if t == "future_import_statement" and parent is None:
            self.future.append(self.txt(node))
            return False
        if t == "expression_statement":
            child = node.named_children[0] if node.named_child_count else None
            if child is not None and child.type in ("assignment", "augmented_assignment"):
                names = self.chained_targets(child)
                if names:
                    p = self.add(node, ASSIGN, f"={names[0]}@L{line}", name="", qualname="",
                                 defines=tuple(names), parent=parent, clause=clause)
                    p.ranges.append((node.start_byte, node.end_byte))
                    return True
            return False
        if t in BLOCK_TYPES:
            return self.block(node, parent, clause)
        if t in OTHER_COMPOUND:
            return self.opaque(node, parent, clause)
        return False

    def chained_targets(self, assign) -> list[str]:
        """Names bound by `a = b = value` (every link of the chain)."""
        names: list[str] = []
        while assign is not None and assign.type in ("assignment", "augmented_assignment"):
            names += self.targets(assign.child_by_field_name("left"))
            assign = assign.child_by_field_name("right")
        return names

    def targets(self, left) -> list[str]:
        if left is None:
            return []
        if left.type == "identifier":
            return [self.txt(left)]
        if left.type in ("pattern_list", "tuple_pattern", "list_pattern", "list_splat_pattern"):
            out: list[str] = []
            for c in left.named_children:
                out += self.targets(c)
            return out
        return []

    def opaque(self, node, parent, clause) -> bool:
        """A module-level for/while/with/match: kept whole when it binds names."""
        p = self.add(node, STATEMENT, f"@stmt{node.start_point[0] + 1}", name="", qualname="",
                     parent=parent, clause=clause)
        p.ranges.append((node.start_byte, node.end_byte))
        p.kw["opaque"] = True
        return True

    def block(self, node, parent, clause) -> bool:
        clauses = self.clauses(node)
        if clauses is None:  # one-line bodies (`if x: y = 1`): keep the statement whole
            return self.opaque(node, parent, clause)
        p = self.add(node, BLOCK, f"@block{node.start_point[0] + 1}", name="", qualname="",
                     parent=parent, clause=clause)
        made = False
        info_clauses = []
        for i, (head, body) in enumerate(clauses):
            p.ranges.append((head.start_byte, body.start_byte))
            first = body.named_children[0] if body.named_child_count else body
            info_clauses.append({
                "start": head.start_point[0] + 1, "header_end": body.start_point[0],
                "indent": " " * first.start_point[1],
            })
            for child in body.named_children:
                made |= self.statement(child, p.kw["uid"], i)
        p.kw["clauses"] = info_clauses
        if not made:  # nothing defined inside: the block can never be needed
            self.pending.remove(p)
            self.used_uids.discard(p.kw["uid"])
        return made

    def clauses(self, node):
        """[(header node, body block)] of an if/try statement, or None for one-line bodies."""
        out = []
        if node.type == "if_statement":
            out.append((node, node.child_by_field_name("consequence")))
            for alt in node.children_by_field_name("alternative"):
                body = alt.child_by_field_name("consequence") or alt.child_by_field_name("body")
                out.append((alt, body))
        else:
            out.append((node, node.child_by_field_name("body")))
            for c in node.named_children:
                if c.type in ("except_clause", "except_group_clause", "else_clause", "finally_clause"):
                    body = c.child_by_field_name("body") or next(
                        (b for b in c.named_children if b.type == "block"), None)
                    out.append((c, body))
        for head, body in out:
            if body is None or body.start_point[0] == head.start_point[0]:
                return None
        return out

    def imports(self, node, parent, clause) -> bool:
        line = node.start_point[0] + 1
        indent = " " * node.start_point[1]
        made = False
        base = dict(parent=parent, clause=clause, name="", qualname="")
        if node.type == "import_statement":
            for item in node.children_by_field_name("name"):
                if item.type == "aliased_import":
                    module = self.txt(item.child_by_field_name("name"))
                    alias = self.txt(item.child_by_field_name("alias"))
                    bound = alias
                else:
                    module, alias = self.txt(item), None
                    bound = module.split(".")[0]
                p = self.add(node, IMPORT, f"import:{module}:{bound}@L{line}", defines=(bound,), **base)
                p.kw["imp"] = {"type": "import", "module": module, "alias": alias, "stmt": node.start_byte,
                               "indent": indent}
                made = True
            return made
        mod_node = node.child_by_field_name("module_name")
        level, module = 0, ""
        if mod_node is not None and mod_node.type == "relative_import":
            prefix = next((c for c in mod_node.named_children if c.type == "import_prefix"), None)
            level = len(self.txt(prefix)) if prefix is not None else 0
            dn = next((c for c in mod_node.named_children if c.type == "dotted_name"), None)
            module = self.txt(dn) if dn is not None else ""
        elif mod_node is not None:
            module = self.txt(mod_node)
        common = {"type": "from", "module": module, "level": level, "stmt": node.start_byte, "indent": indent}
        if any(c.type == "wildcard_import" for c in node.named_children):
            p = self.add(node, IMPORT, f"import*:{'.' * level}{module}@L{line}", **base)
            p.kw["imp"] = {**common, "type": "star"}
            return True
        for item in node.children_by_field_name("name"):
            if item.type == "aliased_import":
                name = self.txt(item.child_by_field_name("name"))
                alias = self.txt(item.child_by_field_name("alias"))
            else:
                name, alias = self.txt(item), None
            bound = alias or name
            p = self.add(node, IMPORT, f"import:{bound}@L{line}", defines=(bound,), **base)
            p.kw["imp"] = {**common, "name": name, "alias": alias}
            made = True
        return made

    # ---- functions and classes
    def function(self, fn, outer, cls: _Pending | None, parent, clause) -> _Pending:
        name = self.txt(fn.child_by_field_name("name"))
        in_class = cls is not None
        qual = f"{cls.kw['qualname']}.{name}" if in_class else name
        p = self.add(outer, METHOD if in_class else FUNCTION, qual, name=name, qualname=qual,
                     defines=(name,), parent=cls.kw["uid"] if in_class else parent,
                     clause=0 if in_class else clause, start=outer)
        p.ranges.append((outer.start_byte, outer.end_byte))
        decorators = [self.txt(d)[1:].strip() for d in outer.named_children if d.type == "decorator"]
        body = fn.child_by_field_name("body")
        params_node = fn.child_by_field_name("parameters")
        params = self.params(params_node)
        static = any(d.split("(")[0] == "staticmethod" for d in decorators)
        self_name = params[0] if in_class and params and not static else None
        stmts = [c for c in body.named_children if c.type != "comment"] if body is not None else []
        docstring = ""
        if stmts and stmts[0].type == "expression_statement" and stmts[0].named_child_count == 1 \
                and stmts[0].named_children[0].type in ("string", "concatenated_string"):
            docstring = _string_value(self.txt(stmts[0].named_children[0]))
            stmts = stmts[1:]
        sig_end = body.start_byte if body is not None else fn.end_byte
        p.body_start = sig_end
        p.own_name = fn.child_by_field_name("name").start_byte
        signature = self.data[fn.start_byte:sig_end].decode(self.enc, "replace").strip()
        signature = re.sub(r"\s*:\s*$", "", signature)
        p.kw["info"] = {
            "docstring": docstring, "signature": signature, "decorators": decorators,
            "is_async": any(c.type == "async" for c in fn.children), "params": params,
            "n_params": len(params) - (1 if self_name else 0), "self_name": self_name,
            "delegating": self.delegating(stmts, set(params)),
            "extractable": True,
        }
        return p

    def params(self, node) -> list[str]:
        out: list[str] = []
        if node is None:
            return out
        for c in node.named_children:
            if c.type == "identifier":
                out.append(self.txt(c))
            elif c.type in ("default_parameter", "typed_default_parameter"):
                n = c.child_by_field_name("name")
                if n is not None:
                    out.append(self.txt(n))
            elif c.type in ("typed_parameter", "list_splat_pattern", "dictionary_splat_pattern"):
                ident = next((x for x in c.named_children if x.type == "identifier"), None)
                if ident is None and c.named_child_count:
                    ident = next((x for x in c.named_children[0].named_children if x.type == "identifier"), None)
                if ident is not None:
                    out.append(self.txt(ident))
        return out

    def delegating(self, stmts, params: set[str]) -> bool:
        """A body that only forwards its parameters to another call: `return f(a, *args, k=k)`."""
        if len(stmts) != 1 or stmts[0].type not in ("return_statement", "expression_statement"):
            return False
        expr = stmts[0].named_children[0] if stmts[0].named_child_count else None
        if expr is not None and expr.type == "await" and expr.named_child_count:
            expr = expr.named_children[0]
        if expr is None or expr.type != "call":
            return False
        args = expr.child_by_field_name("arguments")
        if args is None or args.type != "argument_list":
            return False
        for a in args.named_children:
            if a.type in ("list_splat", "dictionary_splat"):
                a = a.named_children[0] if a.named_child_count else a
            elif a.type == "keyword_argument":
                a = a.child_by_field_name("value")
            if a is None or a.type != "identifier" or self.txt(a) not in params:
                return False
        return True

    def klass(self, node, outer, parent, clause) -> bool:
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name_node is None or body is None:
            self.skipped += 1
            return False
        name = self.txt(name_node)
        in_block = parent is not None
        p = self.add(outer, CLASS, name, name=name, qualname=name, defines=(name,), parent=parent,
                     clause=clause, start=outer)
        sup = node.child_by_field_name("superclasses")
        bases = [self.txt(a) for a in sup.named_children if DOTTED.match(self.txt(a))] if sup is not None else []
        oneline = body.start_point[0] == node.start_point[0] or node.has_error
        first = next((c for c in body.named_children if c.type != "comment"), None)
        p.kw["info"] = {
            "bases": bases, "oneline": oneline, "header_end": body.start_point[0],
            "indent": " " * (first.start_point[1] if first is not None else node.start_point[1] + 4),
            "in_block": in_block,
        }
        if oneline:
            p.ranges.append((outer.start_byte, outer.end_byte))
            if node.has_error:
                self.skipped += 1
            return True
        p.ranges.append((outer.start_byte, body.start_byte))
        for child in body.named_children:
            self.member(child, p)
        return True

    def member(self, node, cls: _Pending) -> None:
        t = node.type
        if t == "comment" or t == "pass_statement":
            return
        if node.has_error:
            self.skipped += 1
            return
        line = node.start_point[0] + 1
        qual = cls.kw["qualname"]
        if t == "function_definition":
            self.function(node, node, cls, None, 0)
            return
        if t == "decorated_definition":
            inner = node.child_by_field_name("definition")
            if inner is not None and inner.type == "function_definition":
                self.function(inner, node, cls, None, 0)
                return
        defines: tuple[str, ...] = ()
        if t == "expression_statement":
            child = node.named_children[0] if node.named_child_count else None
            if child is None or child.type in ("string", "concatenated_string"):
                return  # docstring
            if child.type in ("assignment", "augmented_assignment"):
                defines = tuple(self.chained_targets(child))
        elif t in ("class_definition", "decorated_definition"):
            inner = node if t == "class_definition" else node.child_by_field_name("definition")
            n = inner.child_by_field_name("name") if inner is not None else None
            defines = (self.txt(n),) if n is not None else ()
        key = f"{qual}.{defines[0]}" if defines else f"{qual}@L{line}"
        p = self.add(node, ASSIGN if t == "expression_statement" else STATEMENT, key, name="", qualname="",
                     defines=defines, parent=cls.kw["uid"])
        p.ranges.append((node.start_byte, node.end_byte))
        p.kw["opaque"] = t != "expression_statement"
        p.kw["class_scope"] = True

    # ---- finishing
    def finish(self, text: str, file_tokens: int) -> list[Unit]:
        """Units with refs resolved to sets; a unit's token count is its share of the file's
        (by characters), exact counts being made on the rendered slice."""
        lines = text.split("\n")
        ratio = file_tokens / max(1, len(text))
        units = []
        for p in self.pending:
            kw = dict(p.kw)
            info = dict(kw.pop("info", {}) or {})
            for extra in ("imp", "clauses", "opaque", "class_scope"):
                if extra in kw:
                    info[extra] = kw.pop(extra)
            kind = kw["kind"]
            if kind in (FUNCTION, METHOD):
                refs = (p.names - p.locals) | p.globals | p.sig_names
                self_name = info.get("self_name")
                chains = {c for c in p.chains if c.split(".")[0] not in p.locals or c.split(".")[0] == self_name
                          or c.split(".")[0] in p.globals}
                calls = {c for c in p.calls if c.split(".")[0] not in p.locals or c.split(".")[0] == self_name
                         or c.split(".")[0] in p.globals or c.startswith("super()")}
                chains |= {c for c in p.chains if c.startswith("super()")}
                valued = [r for r in p.returns if r is not None and r != "none"]
                info["returns_value"] = bool(valued) or p.yields
                info["only_literal_returns"] = bool(valued) and not p.yields and all(r in LITERAL_TYPES for r in valued)
            elif kind == ASSIGN or info.get("opaque"):
                own = set(kw.get("defines", ()))
                refs = p.names - (p.locals - own)
                chains, calls = set(p.chains), set(p.calls)
                if info.get("opaque") and not kw.get("defines"):
                    kw["defines"] = tuple(sorted(p.locals))
            else:
                refs, chains, calls = set(p.names), set(p.chains), set(p.calls)
            if kind == CLASS:
                header_last = info["header_end"] if not info.get("oneline") else kw["end_line"]
                own_text = "\n".join(lines[kw["start_line"] - 1:header_last])
            elif kind == BLOCK:
                own_text = "\n".join(
                    "\n".join(lines[c["start"] - 1:c["header_end"]]) for c in info.get("clauses", ()))
            elif kind == IMPORT:
                own_text = python_resolve.import_text(info["imp"], [info["imp"]])
            else:
                own_text = "\n".join(lines[kw["start_line"] - 1:kw["end_line"]])
            units.append(Unit(
                path=self.path, refs=tuple(sorted(refs | chains)), calls=tuple(sorted(calls)),
                tokens=max(1, round(len(own_text) * ratio)), info=info, **kw,
            ))
        return units


def _string_value(literal: str) -> str:
    try:
        value = ast.literal_eval(literal)
    except Exception:  # f-strings, Python 2 literals, broken escapes
        return literal.strip("\"'rbuRBUfF").strip()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip() if isinstance(value, str) else ""
