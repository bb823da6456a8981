"""`r2e perf harness`: one workload per candidate, calling a function its commit changed.

Offline sources, tried in order for each changed function: the calls the repository's own tests
made (carved samples, `r2e carve`), replayed SCALE times; then the repository's benchmarks folder
(asv `time_*`, pytest-benchmark tests) when a benchmark calls the function. With an LLM, the rest
get a generated workload from the dependency slice and the diff (repaired later by quickcheck).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Callable

from harness.carve.store import SampleStore
from harness.perf import gitio
from harness.perf.mine import is_test_path
from r2e.experiment import Experiment
from r2e.stage_records import FunctionRecord, PerfCandidate, PerfHarness

MAX_SAMPLES = 20
MAX_DIFF = 6000
MAX_CONTEXT = 12000
BENCH_DIRS = ("benchmarks", "benchmark", "bench", "asv_bench/benchmarks", "asv_benchmarks")
_FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.S)


def template(name: str) -> Template:
    return Template((resources.files("harness.perf") / "data" / name).read_text(encoding="utf-8"))


def module_of(record: FunctionRecord) -> str:
    return record.module


def carved_script(record: FunctionRecord, samples: list[dict]) -> str | None:
    usable = [s["inputs"] for s in samples if s.get("inputs")][:MAX_SAMPLES]
    if not usable:
        return None
    return template("carved_harness.py.tmpl").substitute(
        function_id=record.id, api=f"{record.module}.{record.qualname}", count=len(usable),
        module=repr(record.module), qualname=repr(record.qualname), samples=repr(usable))


def benchmark_files(checkout: str, commit: str) -> list[str]:
    listing = gitio.git(checkout, "ls-tree", "-r", "--name-only", commit, check=False).splitlines()
    return [p for p in listing if p.endswith(".py") and any(p.startswith(d + "/") for d in BENCH_DIRS)
            or re.search(r"(^|/)(test_)?bench[^/]*\.py$", p)]


def benchmarks_calling(source: str, name: str) -> list[str]:
    """asv `time_*` functions and methods, and pytest-benchmark tests, whose body names `name`."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    found = []

    def names_target(node: ast.AST) -> bool:
        return any(isinstance(n, ast.Name) and n.id == name or isinstance(n, ast.Attribute) and n.attr == name
                   for n in ast.walk(node))

    def is_bench(fn: ast.FunctionDef) -> bool:
        args = [a.arg for a in fn.args.args]
        return fn.name.startswith("time_") or (fn.name.startswith("test") and "benchmark" in args)

    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and is_bench(node) and names_target(node):
            found.append(node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name.startswith("time_") and len(item.args.args) == 1 \
                        and names_target(item):
                    found.append(f"{node.name}.{item.name}")
    return found


def benchmark_script(record: FunctionRecord, checkout: str, commit: str) -> str | None:
    for path in benchmark_files(checkout, commit):
        source = gitio.show(checkout, commit, path)
        if not source or is_test_path(path) and "benchmark" not in source:
            continue
        for bench in benchmarks_calling(source, record.name):
            return template("benchmark_harness.py.tmpl").substitute(
                function_id=record.id, api=f"{record.module}.{record.qualname}", bench_file=repr(path),
                bench=repr(bench), module=repr(record.module), qualname=repr(record.qualname))
    return None


def generation_messages(record: FunctionRecord, candidate: PerfCandidate, diff: str) -> list[dict]:
    prompt = template("generate_harness.txt").substitute(
        api=f"{record.module}.{record.qualname}", function_id=record.id, subject=candidate.subject,
        context=(record.context or record.code)[-MAX_CONTEXT:], diff=diff[:MAX_DIFF])
    return [{"role": "system", "content": "You write precise, runnable Python benchmark scripts."},
            {"role": "user", "content": prompt}]


def extract_code(text: str) -> str | None:
    blocks = _FENCE.findall(text or "")
    code = max(blocks, key=len) if blocks else (text or "")
    return code if "def setup" in code and "def experiment" in code else None


@dataclass
class Generated:
    harness: PerfHarness
    script: str | None
    messages: list[dict]


def make_harness(exp: Experiment, candidate: PerfCandidate, records: dict[str, FunctionRecord], checkout: str,
                 *, client=None, sources: tuple[str, ...] = ("carve", "benchmarks", "llm")) -> Generated:
    store = SampleStore(exp)
    changed = [records[f] for f in candidate.functions if f in records]
    tried = []
    for record in changed:
        api = f"{record.module}.{record.qualname}"
        if "carve" in sources:
            script = carved_script(record, store.samples(record))
            if script:
                return Generated(PerfHarness(candidate.id, "generated", record.id, api, "carve"), script, [])
            tried.append(f"{record.qualname}: no carved samples")
        if "benchmarks" in sources:
            script = benchmark_script(record, checkout, candidate.commit)
            if script:
                return Generated(PerfHarness(candidate.id, "generated", record.id, api, "benchmarks"), script, [])
            tried.append(f"{record.qualname}: no benchmark calls it")
    if "llm" in sources and client is not None and changed:
        record = changed[0]
        diff = gitio.git(checkout, "diff", "--no-color", candidate.parent, candidate.commit, "--", *candidate.files,
                         check=False)
        messages = generation_messages(record, candidate, diff)
        try:
            reply = client.chat(messages, purpose="generate")
        except Exception as exc:  # noqa: BLE001 - an LLM failure drops this candidate, not the batch
            return Generated(PerfHarness(candidate.id, "dropped", record.id, None, "llm",
                                         reason=f"LLM: {type(exc).__name__}: {str(exc)[:200]}"), None, messages)
        messages = messages + [{"role": "assistant", "content": reply.text}]
        script = extract_code(reply.text)
        api = f"{record.module}.{record.qualname}"
        if script is None:
            return Generated(PerfHarness(candidate.id, "generated", record.id, api, "llm"),
                             "# the model's reply had no setup()/experiment() script\n", messages)
        return Generated(PerfHarness(candidate.id, "generated", record.id, api, "llm"), script, messages)
    reason = "; ".join(tried) or "changes no extracted function"
    if "llm" in sources and client is None:
        reason += "; no LLM configured"
    return Generated(PerfHarness(candidate.id, "dropped", changed[0].id if changed else None, reason=reason),
                     None, [])


def generate_all(exp: Experiment, candidates: list[PerfCandidate], *, client=None,
                 sources: tuple[str, ...] = ("carve", "benchmarks", "llm"),
                 echo: Callable[[str], None] = lambda s: None) -> list[PerfHarness]:
    repos = {r.id: r for r in exp.repos()}
    records = {r.id: r for r in exp.functions()}
    out = []
    for candidate in candidates:
        repo = repos.get(candidate.repo)
        if repo is None:
            out.append(PerfHarness(candidate.id, "dropped", reason=f"repo {candidate.repo} is not in the experiment"))
            continue
        try:
            gen = make_harness(exp, candidate, records, repo.path, client=client, sources=sources)
        except Exception as exc:  # noqa: BLE001 - one candidate's failure never aborts the batch
            gen = Generated(PerfHarness(candidate.id, "dropped", reason=f"{type(exc).__name__}: {exc}"), None, [])
        harness = gen.harness
        if gen.script is not None:
            path = exp.perf_harness_script(candidate.id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(gen.script, encoding="utf-8")
            from dataclasses import replace
            harness = replace(harness, script=str(path.relative_to(exp.dir)),
                              extra={"messages": gen.messages} if gen.messages else {})
        echo(f"harness {candidate.id}: {harness.status} ({harness.source or harness.reason})")
        out.append(harness)
    return out
