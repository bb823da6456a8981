"""Write extracted.jsonl records (issue 4's fields) for fixture repos, using `ast` as the test's own oracle."""

from __future__ import annotations

import ast
import json
from pathlib import Path


def records_for(repo_id: str, repo_path: Path, rel: str) -> list[dict]:
    source = (repo_path / rel).read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    out = []

    def add(node, class_name=None):
        qual = f"{class_name}.{node.name}" if class_name else node.name
        out.append({
            "id": f"{repo_id}/{rel}::{qual}", "repo": repo_id, "path": rel, "lang": "python",
            "kind": "method" if class_name else "function", "name": node.name, "class_name": class_name,
            "start_line": node.lineno, "end_line": node.end_lineno,
            "code": "\n".join(lines[node.lineno - 1: node.end_lineno]) + "\n",
            "docstring": ast.get_docstring(node) or "", "signature": lines[node.lineno - 1].strip(),
            "callees": [], "context": source, "context_tokens": 0, "file_tokens": 0,
        })

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            add(node)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("__"):
                    add(item, node.name)
    return out


def write_extracted(home: Path, exp: str, repo_id: str, repo_path: Path, rels: list[str],
                    keep=lambda r: True) -> list[dict]:
    records = [r for rel in rels for r in records_for(repo_id, repo_path, rel) if keep(r)]
    path = home / "experiments" / exp / "extracted.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return records
