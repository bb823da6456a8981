"""The offline token counter: deterministic, no network, grows with text."""

from r2e.analysis.tokens import count_tokens


def test_counts():
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    assert count_tokens("def f(x):\n    return x + 1\n") == count_tokens("def f(x):\n    return x + 1\n")
    assert count_tokens("a_very_long_identifier_name") > count_tokens("short")
    code = "def helper(x):\n    return x * SCALE\n"
    assert count_tokens(code * 10) >= 9 * count_tokens(code)
