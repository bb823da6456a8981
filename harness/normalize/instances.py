"""Read the input dataset: a JSON list (or JSONL) of instances; a bad row is a BadRow, never an abort."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from harness.normalize.records import BadRow, Instance
from r2e.errors import R2EUsageError

TEST_COMMAND_KEYS = ("test_cmd", "test_command", "test_cmds")  # spellings used by dataset tools


def load_instances(path: Path) -> list[Instance | BadRow]:
    rows = _rows(path)
    out: list[Instance | BadRow] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        item = parse_row(index, row)
        if isinstance(item, Instance):
            if item.instance_id in seen:
                item = BadRow(index, item.instance_id, f"duplicate instance_id {item.instance_id!r}", item.raw)
            seen.add(item.instance_id)
        out.append(item)
    return out


def _rows(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise R2EUsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise R2EUsageError(f"{path} is not UTF-8 text") from None
    stripped = text.strip()
    if not stripped:
        raise R2EUsageError(f"{path} is empty: expected a JSON list or JSONL of instances")
    if stripped[0] == "[":
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise R2EUsageError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
        return data
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if n == 1 and stripped[0] == "{":
                try:  # a single JSON object spread over lines
                    return [json.loads(stripped)]
                except json.JSONDecodeError:
                    pass
            raise R2EUsageError(f"{path} line {n} is not valid JSON: {exc.msg}") from None
    return rows


def parse_row(index: int, row: Any) -> Instance | BadRow:
    if not isinstance(row, dict):
        return BadRow(index, f"#{index}", f"row {index} is not a JSON object")
    iid = row.get("instance_id")
    if not isinstance(iid, str) or not iid.strip():
        return BadRow(index, f"#{index}", f"row {index} has no instance_id", dict(row))
    try:
        for key in ("repo", "base_commit"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise ValueError(f"missing or empty {key!r}")
        dockerfile, image = row.get("dockerfile"), row.get("docker_image")
        if not (isinstance(dockerfile, str) and dockerfile.strip()) and not (isinstance(image, str) and image.strip()):
            raise ValueError("needs 'dockerfile' (text) or 'docker_image'")
        eval_script = row.get("eval_script")
        if not (isinstance(eval_script, str) and eval_script.strip()):
            eval_script = _script_from_command(row)
        return Instance(
            instance_id=iid, repo=row["repo"].strip(), base_commit=row["base_commit"].strip(),
            dockerfile=dockerfile if isinstance(dockerfile, str) and dockerfile.strip() else None,
            docker_image=image if isinstance(image, str) and image.strip() else None,
            eval_script=eval_script, patch=_text(row, "patch"), test_patch=_text(row, "test_patch"),
            fail_to_pass=_test_list(row, "FAIL_TO_PASS"), pass_to_pass=_test_list(row, "PASS_TO_PASS"), raw=dict(row))
    except ValueError as exc:
        return BadRow(index, iid, f"{iid}: {exc}", dict(row))


def _script_from_command(row: dict) -> str:
    for key in TEST_COMMAND_KEYS:
        value = row.get(key)
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            value = " && ".join(value)
        if isinstance(value, str) and value.strip():
            command = value.strip()
            words = shlex.split(command) if _splits(command) else []
            if "pytest" in words and "-rA" not in words:
                command += " -rA"  # the short summary is where per-test statuses are read from
            return f"#!/bin/bash\ncd /testbed\n{command}\n"
    raise ValueError(f"needs 'eval_script' or a test command ({', '.join(TEST_COMMAND_KEYS)})")


def _splits(command: str) -> bool:
    try:
        shlex.split(command)
        return True
    except ValueError:
        return False


def _text(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key!r} is not text")
    return value


def _test_list(row: dict, key: str) -> tuple[str, ...] | None:
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, str):  # SWE-bench stores these lists JSON-encoded
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"{key!r} is a string that is not a JSON list") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key!r} is not a list of test ids")
    return tuple(value)
