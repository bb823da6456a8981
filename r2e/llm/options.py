"""The LLM options every command that calls a model shares, and the config they make.

    @llm_options
    def genexec(..., model, base_url, max_tokens, llm_timeout, llm_max_failures): ...
        config = config_from_options(model, base_url, max_tokens, llm_timeout, llm_max_failures,
                                     no_cache=no_cache, cache_dir=ws.cache_dir("llm"))
"""

from __future__ import annotations

import math
from pathlib import Path

import click


class _Positive(click.ParamType):
    """A finite number > 0 (click's ranges let nan and inf through)."""

    def __init__(self, kind: type):
        self.kind = kind
        self.name = "integer" if kind is int else "seconds"

    def convert(self, value, param, ctx):
        try:
            number = self.kind(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a {'whole ' if self.kind is int else ''}number", param, ctx)
        if not (math.isfinite(number) and number > 0):
            self.fail(f"{value!r} is not a finite number greater than 0", param, ctx)
        return number


POSITIVE_SECONDS = _Positive(float)
POSITIVE_INT = _Positive(int)


def llm_options(fn):
    """--model --base-url --max-tokens --llm-timeout --llm-max-failures (applied bottom-up, shown in this order)."""
    fn = click.option("--llm-max-failures", type=click.IntRange(min=0), default=None,
                      help="Failed LLM calls in a row after which no more are made this run (0: never stop) "
                           "[default: 3].")(fn)
    fn = click.option("--llm-timeout", type=POSITIVE_SECONDS, default=None,
                      help="Seconds of silence from the model (before its first token or between two) that count "
                           "as no answer; a dead server is retried once [default: 60].")(fn)
    fn = click.option("--max-tokens", type=POSITIVE_INT, default=None,
                      help="Bound on each answer's tokens [default: per call kind: 2048 for a test, "
                           "512 for a repair command].")(fn)
    fn = click.option("--base-url", default=None,
                      help="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, OpenRouter...) "
                           "[default: $OPENAI_BASE_URL].")(fn)
    fn = click.option("--model", default=None, help="Model name [default: $R2E_MODEL]. Key from $OPENAI_API_KEY.")(fn)
    return fn


def allow_unisolated_option(fn):
    """--allow-unisolated-local, for commands whose model-driven work can run on this host."""
    fn = click.option("--allow-unisolated-local", is_flag=True,
                      help="With --backend local and no sandbox (bubblewrap) on this host, still let the model's "
                           "commands and tests run here, where they could read your environment.")(fn)
    return fn


def config_from_options(model: str | None, base_url: str | None, max_tokens: int | None = None,
                        llm_timeout: float | None = None, llm_max_failures: int | None = None, *,
                        no_cache: bool = False, cache_dir: Path | None = None):
    """The run's LLMConfig (None when no model is named); unset options keep LLMConfig's defaults."""
    from r2e.llm.config import LLMConfig

    return LLMConfig.from_env_and_options(model=model, base_url=base_url, no_cache=no_cache, cache_dir=cache_dir,
                                          max_tokens=max_tokens, timeout=llm_timeout, max_failures=llm_max_failures)
