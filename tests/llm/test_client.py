import pytest

from r2e.llm import LLMAuthError, LLMClient, LLMConfig, LLMError

MESSAGES = [{"role": "user", "content": "say hi"}]


def client_for(server, tmp_path=None, **kw) -> tuple[LLMClient, list[float]]:
    sleeps: list[float] = []
    cache = (tmp_path / "cache.sqlite3") if tmp_path else None
    config = LLMConfig(model="scripted", base_url=server.base_url, cache_path=cache, backoff_seconds=0.01, **kw)
    return LLMClient(config, sleep=sleeps.append), sleeps


def test_chat_returns_text_and_usage(llm_server):
    llm_server.script("hello there")
    client, _ = client_for(llm_server)
    result = client.chat(MESSAGES)
    assert result.text == "hello there"
    assert result.completion_tokens == 2 and result.prompt_tokens == 2
    assert not result.cached
    assert llm_server.requests[0]["messages"] == MESSAGES


def test_retries_rate_limits_and_server_errors_then_succeeds(llm_server):
    llm_server.script({"status": 429, "retry_after": 0}, {"status": 503}, "ok now")
    client, sleeps = client_for(llm_server)
    assert client.chat(MESSAGES).text == "ok now"
    assert len(sleeps) == 2 and len(llm_server.requests) == 3


def test_retries_are_bounded(llm_server):
    llm_server.script(*[{"status": 500}] * 10)
    client, sleeps = client_for(llm_server, max_retries=2)
    with pytest.raises(LLMError, match="after 3 attempts"):
        client.chat(MESSAGES)
    assert len(llm_server.requests) == 3 and len(sleeps) == 2


def test_auth_error_is_not_retried(llm_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    llm_server.script({"status": 401, "message": "bad key"}, "never reached")
    client, sleeps = client_for(llm_server)
    with pytest.raises(LLMAuthError) as info:
        client.chat(MESSAGES)
    assert len(llm_server.requests) == 1 and sleeps == []
    assert "sk-secret-value" not in str(info.value)
    assert llm_server.headers[0]["Authorization"] == "Bearer sk-secret-value"


def test_bad_request_is_not_retried(llm_server):
    llm_server.script({"status": 400, "message": "context too long"})
    client, sleeps = client_for(llm_server)
    with pytest.raises(LLMError, match="rejected the request"):
        client.chat(MESSAGES)
    assert sleeps == []


def test_cache_answers_repeat_requests_and_can_be_off(llm_server, tmp_path):
    llm_server.script("first", "second", "third")
    client, _ = client_for(llm_server, tmp_path)
    assert client.chat(MESSAGES).text == "first"
    again = client.chat(MESSAGES)
    assert again.text == "first" and again.cached
    assert client.chat(MESSAGES, temperature=0.7).text == "second"  # parameters are part of the key
    uncached, _ = client_for(llm_server)
    assert uncached.chat(MESSAGES).text == "third"
    assert len(llm_server.requests) == 3


def test_config_from_options(monkeypatch, tmp_path):
    monkeypatch.delenv("R2E_MODEL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert LLMConfig.from_env_and_options() is None
    cfg = LLMConfig.from_env_and_options(model="m", base_url="http://127.0.0.1:9/v1", cache_dir=tmp_path)
    assert cfg.cache_path == tmp_path / "llm-cache.sqlite3"
    assert LLMConfig.from_env_and_options(model="m", cache_dir=tmp_path, no_cache=True).cache_path is None
    from r2e.errors import R2EUsageError

    with pytest.raises(R2EUsageError, match="ftp://x"):
        LLMConfig.from_env_and_options(model="m", base_url="ftp://x")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(R2EUsageError, match="OPENAI_API_KEY"):
        LLMConfig(model="m").api_key()


def test_a_missing_key_is_a_usage_error_not_a_retried_failure(monkeypatch):
    from r2e.errors import R2EUsageError

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    sleeps: list[float] = []
    with pytest.raises(R2EUsageError, match="OPENAI_API_KEY"):
        LLMClient(LLMConfig(model="m"), sleep=sleeps.append).chat(MESSAGES)
    assert sleeps == []


TOOLS = [{"type": "function", "function": {"name": "execute_bash", "parameters": {"type": "object"}}}]


@pytest.mark.parametrize("stream", [True, False])
def test_tool_calls_streamed_or_not_give_the_same_messages(llm_server, tmp_path, stream):
    call = {"tool_calls": [{"name": "execute_bash", "arguments": {"cmd": "ls"}},
                           {"name": "finish", "arguments": "{not json"}], "content": "let me look"}
    llm_server.script(call, lambda body: call)
    client, _ = client_for(llm_server, tmp_path, stream=stream)
    result = client.chat(MESSAGES, tools=TOOLS, purpose="agent")
    assert llm_server.requests[0]["tools"] == TOOLS
    assert bool(llm_server.requests[0].get("stream")) is stream
    assert result.text == "let me look" and not result.truncated
    assert [c["function"] for c in result.tool_calls] == [
        {"name": "execute_bash", "arguments": '{"cmd": "ls"}'}, {"name": "finish", "arguments": "{not json"}]
    assert all(c["id"].startswith("call_") and c["type"] == "function" for c in result.tool_calls)
    assert result.message["role"] == "assistant" and result.message["content"] == "let me look"
    again = client.chat(MESSAGES + [{"role": "user", "content": "again"}], tools=TOOLS)
    assert again.tool_calls == result.tool_calls  # ids are derived from the call: the same every time
    cached = client.chat(MESSAGES, tools=TOOLS, purpose="agent")
    assert cached.cached and cached.messages == result.messages
    assert len(llm_server.requests) == 2


def test_plain_answers_carry_their_message(llm_server):
    llm_server.script({"text": "cut", "finish_reason": "length"})
    client, _ = client_for(llm_server)
    result = client.chat(MESSAGES)
    assert result.truncated and result.messages == [{"role": "assistant", "content": "cut"}]
    assert result.tool_calls == []
