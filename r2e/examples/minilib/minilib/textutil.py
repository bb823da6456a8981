"""Text helpers."""

import re

from minilib.constants import DEFAULT_SEPARATOR, MAX_SLUG_LENGTH

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text, sep=DEFAULT_SEPARATOR, max_length=MAX_SLUG_LENGTH):
    """Lower-case `text` and join its words with `sep`, cut to `max_length` characters."""
    if not isinstance(text, str):
        raise TypeError("text must be a string")
    slug = _NON_WORD.sub(sep, text.lower()).strip(sep)
    if len(slug) > max_length:
        slug = slug[:max_length].rstrip(sep)
    return slug


def wrap_words(text, width):
    """Greedily wrap the words of `text` into lines of at most `width` characters."""
    if width <= 0:
        raise ValueError("width must be positive")
    lines, current = [], ""
    for word in text.split():
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current += " " + word
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def count_vowels(text):
    """Count the vowels (a, e, i, o, u) in `text`, ignoring case."""
    return sum(1 for ch in text.lower() if ch in "aeiou")
