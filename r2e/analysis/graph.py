"""The repository graph (networkx): modules, classes, functions, methods; contains/imports/calls.

A language whose resolver has `graph(repo_id)` (C: macros too, includes/expands edges) supplies
its own part of the graph instead (see languages.py)."""

from __future__ import annotations

import json

import networkx as nx

from r2e.analysis.records import CLASS, DEFINITION_KINDS, METHOD


def build_graph(repo_id: str, repo) -> nx.DiGraph:
    """Nodes are `<repo>/<path>` for modules and `<repo>/<path>::<qualname>` for definitions."""
    g = nx.DiGraph(repo=repo_id)
    for lang, files in sorted(repo.files.items()):
        resolver = repo.resolver(lang)
        if hasattr(resolver, "graph"):
            g.update(resolver.graph(repo_id))
            continue
        for path, sf in sorted(files.items()):
            mod = f"{repo_id}/{path}"
            g.add_node(mod, kind="module", lang=lang, path=path, lines=sf.index.lines)
            for u in sf.index.units:
                if u.kind not in DEFINITION_KINDS:
                    continue
                node = f"{repo_id}/{u.uid}"
                g.add_node(node, kind=u.kind, lang=lang, path=path, name=u.name,
                           start_line=u.start_line, end_line=u.end_line)
                owner = f"{repo_id}/{u.parent}" if u.kind == METHOD and u.parent else mod
                g.add_edge(owner, node, kind="contains")
        for src, dst in resolver.module_edges():
            g.add_edge(f"{repo_id}/{src}", f"{repo_id}/{dst}", kind="imports")
        for sf in files.values():
            for u in sf.index.units:
                if u.kind in DEFINITION_KINDS and u.kind != CLASS:
                    for c in resolver.callees(u):
                        g.add_edge(f"{repo_id}/{u.uid}", f"{repo_id}/{c}", kind="calls")
    return g


def graph_text(g: nx.DiGraph, fmt: str) -> str:
    if fmt == "json":
        try:
            data = nx.node_link_data(g, edges="edges")
        except TypeError:  # networkx < 3.4 names the key "links"
            data = nx.node_link_data(g)
        return json.dumps(data, indent=1) + "\n"
    return "\n".join(nx.generate_graphml(g)) + "\n"
