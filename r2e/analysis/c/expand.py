"""A small C macro expander: what does `C(sse3, 0)` or `LZ4F_LIST_ERRORS(LZ4F_GENERATE_ENUM)` define?

Real C generates definitions with macros: `BROTLI_MIN_MAX(size_t)` defines `brotli_min_size_t`,
X-macro lists fill enums, `ZSTD_GEN_FAST_FN(noDict, 4, 1)` defines a function. The index only needs
the *names* such code defines (the slice keeps the invocation itself, and the compiler expands it),
so this expander follows the standard's rules closely enough for that: argument pre-expansion,
`#` stringizing, `##` pasting, `__VA_ARGS__`, rescanning with a macro never re-expanded inside its
own expansion. Where a macro has several (#if-dependent) definitions, the first non-empty one is
used. Output is bounded; expansion never raises on odd input.
"""

from __future__ import annotations

import re

TOKEN = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|[A-Za-z_]\w*|\d[\w.]*|##|#|\.\.\.'
                   r"|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^]=|\S")
IDENT = re.compile(r"[A-Za-z_]\w*")
MAX_TOKENS = 200_000
MAX_DEPTH = 40


class Expander:
    def __init__(self, functions: dict[str, tuple[list[str], str]], objects: dict[str, str]):
        self.functions = {n: (ps, TOKEN.findall(body)) for n, (ps, body) in functions.items()}
        self.objects = {n: TOKEN.findall(body) for n, body in objects.items()}
        self.used: set[str] = set()  # macros expanded by the last `expand` call

    def copy(self) -> "Expander":
        """An independent expander with the same definitions (token lists are never mutated)."""
        new = Expander({}, {})
        new.functions, new.objects = dict(self.functions), dict(self.objects)
        return new

    def define(self, name: str, params: list[str] | None, body: str) -> None:
        """`#define` (params None: object-like), replacing any earlier definition."""
        self.undef(name)
        if params is None:
            self.objects[name] = TOKEN.findall(body)
        else:
            self.functions[name] = (params, TOKEN.findall(body))

    def undef(self, name: str) -> None:
        self.functions.pop(name, None)
        self.objects.pop(name, None)

    def expand(self, text: str) -> str:
        """The text with every known macro expanded (tokens joined by single spaces)."""
        self.used = set()
        self._budget = MAX_TOKENS
        return " ".join(self._expand(TOKEN.findall(text), frozenset(), 0))

    def _expand(self, toks: list[str], hide: frozenset, depth: int) -> list[str]:
        # each pending token carries the macros it must not re-expand (the standard's hide set)
        work = [(t, hide) for t in toks]
        out: list[str] = []
        i = 0
        while i < len(work):
            t, h = work[i]
            self._budget -= 1
            if self._budget <= 0 or depth > MAX_DEPTH or t in h or not IDENT.fullmatch(t):
                out.append(t)
                i += 1
                continue
            if t in self.functions and i + 1 < len(work) and work[i + 1][0] == "(":
                args, end = _arguments([w[0] for w in work[i + 1:]], 0)
                if args is None:
                    out.append(t)
                    i += 1
                    continue
                self.used.add(t)
                params, body = self.functions[t]
                expanded = self._substitute(params, body, args, h, depth)
                self._budget -= len(expanded)
                # rescanned with what follows: it may name a macro whose arguments come after it
                work[i:i + 1 + end + 1] = [(b, h | {t}) for b in expanded]
                continue
            if t in self.objects:
                self.used.add(t)
                work[i:i + 1] = [(b, h | {t}) for b in self.objects[t]]
                continue
            out.append(t)
            i += 1
        return out

    def _substitute(self, params: list[str], body: list[str], args: list[list[str]], hide, depth) -> list[str]:
        named = {p: k for k, p in enumerate(params) if p and p != "..."}
        variadic = bool(params) and params[-1].endswith("...")
        if variadic and params[-1] != "...":  # GNU named variadic `args...`
            named[params[-1][:-3]] = len(params) - 1

        def raw(k: int) -> list[str]:
            if variadic and k == len(params) - 1:
                joined: list[str] = []
                for a in args[k:]:
                    joined += ([","] if joined else []) + a
                return joined
            return args[k] if k < len(args) else []

        def arg_of(tok: str):
            if tok == "__VA_ARGS__" and variadic:
                return len(params) - 1
            return named.get(tok)

        out: list[str] = []
        paste_next = False
        j = 0
        while j < len(body):
            tok = body[j]
            if tok == "#" and j + 1 < len(body) and arg_of(body[j + 1]) is not None:
                piece = ['"' + " ".join(raw(arg_of(body[j + 1]))).replace("\\", "\\\\").replace('"', '\\"') + '"']
                j += 2
            elif tok == "##":
                paste_next = True
                j += 1
                continue
            else:
                k = arg_of(tok)
                if k is None:
                    piece = [tok]
                else:
                    pasted = paste_next or (j + 1 < len(body) and body[j + 1] == "##")
                    piece = raw(k) if pasted else self._expand(raw(k), hide, depth + 1)
                j += 1
            if paste_next and out and piece:
                out[-1] = out[-1] + piece[0]
                out += piece[1:]
            else:
                out += piece
            paste_next = False
        return out


def _arguments(toks: list[str], open_: int) -> tuple[list[list[str]] | None, int]:
    """Arguments of the call whose `(` is at `open_`, and the index of its `)`."""
    depth = 0
    args: list[list[str]] = [[]]
    for j in range(open_, len(toks)):
        t = toks[j]
        if t == "(":
            depth += 1
            if depth == 1:
                continue
        elif t == ")":
            depth -= 1
            if depth == 0:
                return ([] if args == [[]] else args), j
        elif t == "," and depth == 1:
            args.append([])
            continue
        args[-1].append(t)
    return None, len(toks)
