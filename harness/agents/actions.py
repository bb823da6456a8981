"""What a model reply asks for: an `Action` (tool name + parameters), parsed as R2E-Gym and
mini-swe-agent parse them. A reply that cannot be parsed gives an empty action, never an exception.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_FUNCTION_BLOCK = re.compile(r"(?s)(<function=.*?</function>)")
_FUNCTION_NAME = re.compile(r"<function\s*=\s*([^>]+)>")
_PARAMETER = re.compile(r"<parameter\s*=\s*([^>]+)>(.*?)</parameter>", re.DOTALL)
# mini-swe-agent v1 writes ```bash; v2's text mode writes ```mswea_bash_command.
BASH_BLOCK = re.compile(r"```(?:bash|mswea_bash_command)\s*\n(.*?)\n```", re.DOTALL)


@dataclass(frozen=True)
class Action:
    function_name: str = ""
    parameters: dict = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.function_name

    @classmethod
    def from_string(cls, text: str) -> "Action":
        """R2E-Gym's parser: <function=NAME> and <parameter=KEY>VALUE</parameter>, values stripped."""
        name = _FUNCTION_NAME.search(text)
        params = {key.strip(): value.strip() for key, value in _PARAMETER.findall(text)}
        return cls(name.group(1).strip() if name else "", params)

    def to_xml_string(self) -> str:
        body = "".join(f"  <parameter={k}>{v}</parameter>\n" for k, v in self.parameters.items())
        return f"<function={self.function_name}>\n{body}</function>"


def parse_function_text(content: str) -> tuple[str, Action]:
    """(thought, action) of a text-mode reply: thought is what precedes the first <function=...> block."""
    match = _FUNCTION_BLOCK.search(content or "")
    if not match:
        return (content or "").strip(), Action()
    return content[: match.start()].strip(), Action.from_string(match.group(1).strip())


def parse_tool_call(tool_call: dict) -> tuple[Action, str]:
    """(action, error) of one OpenAI tool call; error is "" when its arguments parse as a JSON object."""
    function = tool_call.get("function") or {}
    name = str(function.get("name") or "")
    raw = function.get("arguments")
    if isinstance(raw, dict):
        return Action(name, raw), ""
    try:
        params = json.loads(raw or "{}")
    except (TypeError, ValueError) as exc:
        return Action(name, {}), f"the arguments of `{name}` are not valid JSON ({exc})"
    if not isinstance(params, dict):
        return Action(name, {}), f"the arguments of `{name}` must be a JSON object"
    return Action(name, params), ""


def parse_bash_block(content: str) -> tuple[str, list[str]]:
    """(thought, commands) of a mini-swe-agent reply; exactly one command is a valid reply."""
    content = content or ""
    commands = [c.strip() for c in BASH_BLOCK.findall(content)]
    match = BASH_BLOCK.search(content)
    thought = content[: match.start()].strip() if match else content.strip()
    return thought, commands
