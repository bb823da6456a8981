"""The LLM step, only where a deterministic check failed: the model proposes a whole Dockerfile or eval script
(one fenced block), which is rebuilt and rechecked by the caller. The transcript is kept, secrets scrubbed."""

from __future__ import annotations

import re
from importlib import resources
from string import Template

from r2e.llm.redact import scrub, secrets_of

_FENCE = re.compile(r"```([A-Za-z]*)[ \t]*\n(.*?)```", re.S)
LOG_CHARS = 3000
# Checks an edit may honestly fix. A timeout is not among them: an eval made shorter by an edit runs fewer
# tests, which changes what the instance measures.
REPAIRABLE = ("build_failed", "eval_no_tests", "gold_fails", "p2p_fails", "patch_failed", "testbed_layout",
              "dirty_worktree")


def prompt(*, repo: str, base_commit: str, base: str, reason: str, detail: str, dockerfile: str,
           eval_script: str, log: str) -> str:
    text = (resources.files("harness") / "prompts" / "normalize_repair.txt").read_text(encoding="utf-8")
    return Template(text).safe_substitute(repo=repo, base_commit=base_commit, base=base, reason=reason,
                                          detail=detail, dockerfile=dockerfile.strip(),
                                          eval_script=eval_script.strip(), log=log[-LOG_CHARS:].strip())


def parse_reply(text: str) -> tuple[str, str] | None:
    """("dockerfile", text) or ("eval_script", text) from the first fenced block; None when there is none."""
    for lang, body in _FENCE.findall(text or ""):
        body = body.strip("\n")
        if not body.strip():
            continue
        lang = lang.lower()
        if lang == "dockerfile" or (not lang and re.match(r"\s*(#.*\n\s*)*FROM\s", body, re.I)):
            return "dockerfile", body + "\n"
        if lang in ("bash", "sh", "shell", ""):
            return "eval_script", body + "\n"
    return None


class Repairer:
    """One instance's conversation with the model; `propose` returns an edit or None (no answer, no block)."""

    def __init__(self, client, config):
        self.client, self.secrets = client, secrets_of(config)
        self.transcript: list[dict] = []

    def propose(self, **context) -> tuple[str, str] | None:
        from r2e.llm import LLMError

        message = scrub(prompt(**context), self.secrets)
        entry = {"reason": context["reason"], "prompt": message}
        try:
            result = self.client.chat([{"role": "user", "content": message}], purpose="repair", max_tokens=2048)
            reply = result.text
        except LLMError as exc:
            entry["error"] = scrub(str(exc), self.secrets)
            self.transcript.append(entry)
            return None
        entry["reply"] = scrub(reply, self.secrets)
        edit = parse_reply(reply)
        entry["edit"] = edit[0] if edit else None
        self.transcript.append(entry)
        return edit
