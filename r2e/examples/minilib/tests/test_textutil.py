import pytest

from minilib.textutil import count_vowels, slugify, wrap_words


def test_slugify_basic():
    assert slugify("Hello, World!") == "hello-world"
    assert slugify("  many   spaces  ", sep="_") == "many_spaces"


def test_slugify_truncates():
    assert len(slugify("word " * 30, max_length=12)) <= 12


def test_slugify_rejects_non_strings():
    with pytest.raises(TypeError):
        slugify(42)


def test_wrap_words():
    assert wrap_words("the quick brown fox jumps", 10) == ["the quick", "brown fox", "jumps"]
    assert wrap_words("", 5) == []


def test_count_vowels():
    assert count_vowels("Education") == 5
