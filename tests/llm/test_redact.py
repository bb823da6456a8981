"""Keys and URL credentials never appear in a config's repr, an error message or the breaker's notice."""

import pytest

from r2e.llm import LLMClient, LLMConfig, LLMError, redact_url, scrub, secrets_of

KEY = "sk-canary-0123456789"
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("url, shown", [
    ("https://user:key123@host.example/v1", "https://***@host.example/v1"),
    ("https://token@host.example:8443/v1", "https://***@host.example:8443/v1"),
    ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
    ("https://host.example/v1?api_key=abcd1234&x=1", "https://host.example/v1?api_key=***&x=1"),
    (None, None),
])
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_scrub_masks_secrets_and_any_credentials_in_urls():
    text = f"failed: key {KEY} at https://bob:pa%40ss@h.example/v1 and http://x:y@other/"
    out = scrub(text, [KEY])
    assert KEY not in out and "pa%40ss" not in out and "bob" not in out and "x:y@" not in out
    assert out == "failed: key *** at https://***@h.example/v1 and http://***@other/"
    assert scrub("a short word", ["a"]) == "a short word"  # too short to be a secret worth mangling text


def test_secrets_of_a_config(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    config = LLMConfig(model="m", base_url="https://alice:hunter22%21@h.example/v1")
    secrets = secrets_of(config)
    assert KEY in secrets and "hunter22%21" in secrets and "hunter22!" in secrets and "alice" in secrets
    assert "hunter22" not in repr(config) and "alice" not in repr(config) and "***@h.example" in repr(config)
    assert "hunter22" not in str(config) and "hunter22" not in config.where


def test_error_messages_never_carry_the_key_or_url_credentials(llm_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    port_url = llm_server.base_url.replace("http://", "http://alice:hunter22@")
    # A hostile or careless server echoes the key back in its error.
    llm_server.script({"status": 500, "message": f"bad key {KEY} for alice:hunter22"})
    notes: list[str] = []
    config = LLMConfig(model="m", base_url=port_url, max_retries=0, max_failures=1, backoff_seconds=0.01)
    client = LLMClient(config, notify=notes.append)
    with pytest.raises(LLMError) as first:
        client.chat(MESSAGES)
    with pytest.raises(LLMError) as second:
        client.chat(MESSAGES)
    for text in (str(first.value), str(second.value), *notes):
        assert KEY not in text and "hunter22" not in text, text
    assert "***@127.0.0.1" in str(first.value)


def test_a_refused_connection_to_a_url_with_credentials_is_redacted(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    config = LLMConfig(model="m", base_url="http://alice:hunter22@127.0.0.1:9/v1", max_retries=1,
                       backoff_seconds=0.01, connect_timeout=1.0)
    with pytest.raises(LLMError) as info:
        LLMClient(config).chat(MESSAGES)
    assert "hunter22" not in str(info.value) and KEY not in str(info.value)
    assert "cannot connect" in str(info.value)


def test_an_invalid_base_url_is_refused_without_printing_its_credentials():
    from r2e.errors import R2EUsageError

    with pytest.raises(R2EUsageError) as info:
        LLMConfig.from_env_and_options(model="m", base_url="ftp://alice:hunter22@h.example/")
    assert "hunter22" not in str(info.value.message)
