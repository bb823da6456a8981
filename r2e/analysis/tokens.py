"""Offline token counts: a deterministic approximation of OpenAI's cl100k_base encoding.

Method: the text is split with cl100k's own pre-tokenizer pattern (contractions, letter runs with an
optional leading punctuation/space character, digit runs of at most 3, punctuation runs, newline and
space runs); each piece counts 1 token, and letter runs of 9+ letters count one more token per 8
letters after the first (long words split into several BPE tokens). No download and no
tokenizer file; counts are stable across runs and machines. It has not been calibrated against the
real encoding here (tiktoken cannot fetch its files offline), so treat counts as estimates.
"""

from __future__ import annotations

import re

# cl100k_base pre-tokenizer, with \p{L} / \p{N} spelled for Python's `re`.
_PIECE = re.compile(
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\w]?[^\W\d_]+|\d{1,3}| ?[^\s\w]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+|_+""",
)
_LETTERS = re.compile(r"[^\W\d_]{9,}")

METHOD = "cl100k-approx-v2"


def count_tokens(text: str) -> int:
    if not text:
        return 0
    pieces = _PIECE.findall(text)
    extra = 0
    for m in _LETTERS.finditer(text):
        extra += (len(m.group()) - 1) // 8
    return len(pieces) + extra
