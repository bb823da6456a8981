"""A real model (SmolLM2-135M on llama.cpp) as the peer: the client's mechanics against a real server."""

import time

import pytest

from r2e.llm import LLMClient, LLMConfig

pytestmark = pytest.mark.slow


def test_one_chat_completion_from_the_real_model_in_bounded_time(real_model):
    config = LLMConfig(model=real_model.model, base_url=real_model.base_url, timeout=30, max_failures=1)
    started = time.monotonic()
    result = LLMClient(config).chat([{"role": "user", "content": "Write a Python function that adds two numbers."}],
                                    max_tokens=32)
    elapsed = time.monotonic() - started
    assert result.text.strip()
    assert 0 < result.completion_tokens <= 32 and result.prompt_tokens > 0
    assert elapsed < 30
    print(f"real model: up in {real_model.startup_seconds:.1f} s; {result.completion_tokens} tokens "
          f"in {elapsed:.2f} s; truncated={result.truncated}")


def test_the_real_model_stops_at_max_tokens_without_streaming_too(real_model):
    config = LLMConfig(model=real_model.model, base_url=real_model.base_url, timeout=30, stream=False)
    result = LLMClient(config).chat([{"role": "user", "content": "Count from 1 to 100, one number a line."}],
                                    max_tokens=8)
    assert result.completion_tokens <= 8 and result.truncated
