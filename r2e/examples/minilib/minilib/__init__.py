"""minilib: small helpers for text, numbers and shapes."""

from minilib.stats import clamp, mean, median, normalize
from minilib.textutil import slugify, wrap_words

__all__ = ["clamp", "mean", "median", "normalize", "slugify", "wrap_words"]
