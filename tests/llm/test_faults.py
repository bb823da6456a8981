"""Server faults end as bounded LLMErrors: hangs, stalls, garbage, and a breaker that stops the run's calls."""

import threading
import time

import pytest

from r2e.llm import LLMClient, LLMConfig, LLMError, LLMUnavailable

MESSAGES = [{"role": "user", "content": "say hi"}]


def make_client(server, notes=None, **kw) -> LLMClient:
    kw = {"backoff_seconds": 0.01, "timeout": 0.5, "connect_timeout": 0.5, **kw}
    config = LLMConfig(model="scripted", base_url=server.base_url, **kw)
    return LLMClient(config, notify=notes.append if notes is not None else None)


def test_a_server_that_never_answers_costs_two_timeouts_not_ten_minutes(llm_server):
    llm_server.script({"hang": True}, {"hang": True}, {"hang": True}, "never reached")
    client = make_client(llm_server)
    started = time.monotonic()
    with pytest.raises(LLMError, match=r"after 2 attempts: no answer within 0.5 s"):
        client.chat(MESSAGES)
    assert time.monotonic() - started < 3.0
    assert len(llm_server.requests) == 2  # one retry for a dead server, not max_retries


def test_a_slow_server_that_keeps_answering_is_given_its_time(llm_server):
    words = "one two three four five six"
    llm_server.script({"slow": words, "delay": 0.25})  # 1.25 s in all, never 0.5 s of silence
    client = make_client(llm_server)
    started = time.monotonic()
    assert client.chat(MESSAGES).text == words
    assert time.monotonic() - started >= 1.2
    assert len(llm_server.requests) == 1


def test_without_streaming_the_same_slow_server_looks_dead(llm_server):
    # Why answers are streamed: a whole-body timeout cannot tell slow from dead.
    llm_server.script({"slow": "one two three four five six", "delay": 0.25}, {"hang": True})
    client = make_client(llm_server, stream=False)
    with pytest.raises(LLMError, match="no answer within"):
        client.chat(MESSAGES)


def test_a_server_that_goes_silent_mid_answer_is_retried_once(llm_server):
    llm_server.script({"stall": "hello there"}, {"stall": "hello there"}, "never reached")
    client = make_client(llm_server)
    started = time.monotonic()
    with pytest.raises(LLMError, match=r"went silent for 0.5 s after 1 chunks"):
        client.chat(MESSAGES)
    assert time.monotonic() - started < 3.0 and len(llm_server.requests) == 2


def test_an_answer_that_keeps_coming_past_the_budget_is_cut_and_not_retried(llm_server):
    llm_server.script({"slow": " ".join(["word"] * 20), "delay": 0.1}, "never reached")
    client = make_client(llm_server, request_budget=0.5)
    with pytest.raises(LLMError, match=r"after 1 attempt: answer still coming after 0.5 s"):
        client.chat(MESSAGES)
    assert len(llm_server.requests) == 1


MALFORMED = {
    "not json": {"body": "<html>502 Bad Gateway</html>", "content_type": "text/html"},
    "truncated json": {"body": '{"id": "x", "choices": [{"index": 0, "mess', "content_type": "application/json"},
    "json list": {"json": ["not", "an", "object"]},
    "no choices": {"json": {"id": "x", "object": "chat.completion"}},
    "empty choices": {"json": {"id": "x", "choices": []}},
    "choice without message": {"json": {"id": "x", "choices": [{"index": 0, "finish_reason": "stop"}]}},
    "content not text": {"json": {"id": "x", "choices": [{"index": 0, "message": {"content": {"a": 1}}}]}},
    "choices not a list": {"json": {"id": "x", "choices": "hello"}},
    "broken event": {"sse": ['{"id": "x", "choices": [{"index": 0, "delta": {"content": "hi"', "[DONE]"]},
    "events without choices": {"sse": ['{"id": "x", "object": "chat.completion.chunk"}', "[DONE]"]},
    "event not an object": {"sse": ['"just a string"', "[DONE]"]},
}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("kind", list(MALFORMED))
def test_a_malformed_reply_is_an_llm_error_after_bounded_retries(llm_server, kind, stream):
    llm_server.script(*[MALFORMED[kind]] * 3, "never reached")
    client = make_client(llm_server, max_retries=2, stream=stream)
    with pytest.raises(LLMError, match="after 3 attempts") as info:
        client.chat(MESSAGES)
    assert type(info.value) is LLMError
    assert len(llm_server.requests) == 3


def test_a_malformed_reply_then_a_good_one_succeeds(llm_server):
    llm_server.script(MALFORMED["truncated json"], MALFORMED["no choices"], "fine")
    client = make_client(llm_server, max_retries=2)
    assert client.chat(MESSAGES).text == "fine"


def test_the_breaker_opens_after_n_failed_calls_and_says_so_once(llm_server):
    llm_server.script(*[{"status": 500}] * 3)
    notes: list[str] = []
    client = make_client(llm_server, notes, max_retries=0, max_failures=3)
    for _ in range(3):
        with pytest.raises(LLMError) as info:
            client.chat(MESSAGES)
        assert type(info.value) is LLMError
    assert len(notes) == 1 and "3 calls in a row" in notes[0] and "no more LLM calls" in notes[0]
    started = time.monotonic()
    for _ in range(5):
        with pytest.raises(LLMUnavailable, match="unavailable for the rest of this run"):
            client.chat(MESSAGES)
    assert time.monotonic() - started < 0.5
    # Another client of the same run (llm_repair makes one per build) is stopped too.
    with pytest.raises(LLMUnavailable):
        LLMClient(client.config).chat(MESSAGES)
    assert len(llm_server.requests) == 3 and len(notes) == 1


def test_a_success_resets_the_count(llm_server):
    llm_server.script({"status": 500}, {"status": 500}, "ok", {"status": 500}, {"status": 500}, "ok again")
    client = make_client(llm_server, max_retries=0, max_failures=3)
    outcomes = []
    for _ in range(6):
        try:
            outcomes.append(client.chat(MESSAGES).text)
        except LLMError as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes == ["LLMError", "LLMError", "ok", "LLMError", "LLMError", "ok again"]


def test_a_rejected_request_does_not_count_against_the_server(llm_server):
    llm_server.script(*[{"status": 400, "message": "context too long"}] * 4, "ok")
    client = make_client(llm_server, max_failures=3)
    for _ in range(4):
        with pytest.raises(LLMError, match="rejected the request"):
            client.chat(MESSAGES)
    assert client.chat(MESSAGES).text == "ok"


def test_a_dead_server_costs_bounded_time_for_the_whole_run(llm_server):
    llm_server.default = {"hang": True}
    notes: list[str] = []
    client = make_client(llm_server, notes, timeout=0.3, max_failures=3)
    started = time.monotonic()
    errors = []
    for _ in range(10):
        try:
            client.chat(MESSAGES)
        except LLMError as exc:
            errors.append(type(exc).__name__)
    assert time.monotonic() - started < 4.0  # 3 calls x 2 attempts x 0.3 s, then nothing
    assert errors == ["LLMError"] * 3 + ["LLMUnavailable"] * 7
    assert len(llm_server.requests) == 6 and len(notes) == 1


def test_the_breaker_is_shared_by_threads_and_said_once(llm_server):
    llm_server.default = {"status": 500}
    notes: list[str] = []
    client = make_client(llm_server, notes, max_retries=0, max_failures=3)
    errors: list[str] = []
    lock = threading.Lock()

    def call():
        for _ in range(5):
            try:
                client.chat(MESSAGES)
            except LLMError as exc:
                with lock:
                    errors.append(type(exc).__name__)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(errors) == 40 and set(errors) <= {"LLMError", "LLMUnavailable"}
    assert len(notes) == 1
    assert len(llm_server.requests) <= 8 + 3  # only calls already past the check when it opened
    assert errors.count("LLMUnavailable") >= 40 - len(llm_server.requests)


def test_every_request_carries_max_tokens(llm_server):
    llm_server.default = "ok"
    client = make_client(llm_server)
    client.chat(MESSAGES)
    client.chat(MESSAGES, purpose="repair")
    client.chat(MESSAGES, purpose="generate")
    client.chat(MESSAGES, purpose="agent", max_tokens=7)
    capped = make_client(llm_server, max_tokens=100)
    capped.chat(MESSAGES, purpose="repair")
    capped.chat(MESSAGES, purpose="unknown kind")
    assert [r["max_tokens"] for r in llm_server.requests] == [2048, 512, 2048, 7, 100, 100]
    assert all(r["stream"] is True for r in llm_server.requests)


def test_an_answer_cut_at_max_tokens_is_marked(llm_server):
    llm_server.script({"text": "def f(", "finish_reason": "length"}, "whole")
    client = make_client(llm_server)
    cut = client.chat(MESSAGES, max_tokens=3)
    assert cut.text == "def f(" and cut.truncated
    assert not client.chat(MESSAGES).truncated


def test_several_samples_are_assembled_from_the_stream(llm_server):
    llm_server.script("same answer twice")
    client = make_client(llm_server)
    result = client.chat(MESSAGES, n=2)
    assert result.texts == ["same answer twice"] * 2
    assert result.prompt_tokens == 2 and result.completion_tokens == 6
