"""The functions of an experiment, as extraction (issue 4) writes them: one loader, one place to adapt."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from r2e.errors import R2EError
from r2e.fsio import read_jsonl
from r2e.workspace import Workspace

EXTRACTED = "extracted.jsonl"


@dataclass(frozen=True)
class FunctionRecord:
    id: str  # "<repo_id>/<path>::<qualname>"
    repo: str
    path: str  # relative to the repo root
    name: str
    class_name: str | None
    start_line: int  # 1-based line of the `def` (decorators excluded)
    end_line: int  # 1-based, inclusive
    code: str
    kind: str = "function"
    lang: str = "python"
    docstring: str = ""
    signature: str = ""
    context: str = ""
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def qualname(self) -> str:
        return f"{self.class_name}.{self.name}" if self.class_name else self.name

    @property
    def reference_name(self) -> str:
        return f"reference_{self.class_name or self.name}"

    @property
    def module(self) -> str:
        """Dotted module name guessed from the path (src layout stripped); the runner resolves the real one."""
        parts = Path(self.path).with_suffix("").parts
        if parts and parts[0] in ("src", "lib") and len(parts) > 1:
            parts = parts[1:]
        if parts and parts[-1] == "__init__":
            parts = parts[:-1]
        return ".".join(parts)

    @classmethod
    def from_dict(cls, data: dict) -> "FunctionRecord":
        known = set(cls.__dataclass_fields__) - {"extra"}
        values = {k: data[k] for k in known if k in data}
        values.setdefault("class_name", None)
        for key in ("docstring", "signature", "context", "kind", "lang"):
            if values.get(key) is None:
                values.pop(key, None)  # the dataclass default
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        return {"id": self.id, "repo": self.repo, "path": self.path, "name": self.name,
                "class_name": self.class_name, "start_line": self.start_line, "end_line": self.end_line,
                "code": self.code, "kind": self.kind, "lang": self.lang, "docstring": self.docstring,
                "signature": self.signature, "context": self.context, **self.extra}


def extracted_path(ws: Workspace, exp: str) -> Path:
    return ws.experiment_dir(exp) / EXTRACTED


def load_functions(ws: Workspace, exp: str, repos: list[str] | tuple[str, ...] | None = None,
                   ids: list[str] | tuple[str, ...] | None = None) -> list[FunctionRecord]:
    """Python functions extracted for the experiment, optionally restricted to repos or ids."""
    path = extracted_path(ws, exp)
    if not path.exists():
        raise R2EError(f"no extracted functions at {path} (run `r2e extract -e {exp}` first)")
    try:
        records = [FunctionRecord.from_dict(r) for r in read_jsonl(path)]
    except (ValueError, TypeError, KeyError) as exc:
        raise R2EError(f"cannot read {path}: {exc}") from None
    records = [r for r in records if r.lang == "python"]
    if repos:
        records = [r for r in records if r.repo in set(repos)]
    if ids:
        wanted = set(ids)
        missing = wanted - {r.id for r in records}
        if missing:
            raise R2EError(f"function '{sorted(missing)[0]}' is not in {path}")
        records = [r for r in records if r.id in wanted]
    return records
