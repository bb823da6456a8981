"""`r2e perf measure`: a candidate's harness at A^ and at B, interleaved, with instruction counts.

Each run is a fresh process pinned to one CPU (where the OS allows it) that warms up once and times
one call: wall and process CPU time. After one discarded warm-up pair, runs alternate A, B, A, B...
`repeats` times, so drift in the machine's load hits both versions alike. Instruction counts come from
`count_repeats` extra pairs under the counter (perf or callgrind), each the count of a full run minus
a setup-only run. The speed-up is median(A)/median(B) with a bootstrap 95 % interval; admission needs
the speed-up >= min_speedup, Mann-Whitney p < alpha (on wall or on process CPU times), equal results
everywhere, and (when a counter
ran) fewer instructions at B.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from statistics import median
from typing import Callable

from harness.perf import stats
from harness.perf.execution import PerfSession
from r2e.experiment import Experiment
from r2e.stage_records import PerfCandidate, PerfHarness, PerfMeasurement


@dataclass(frozen=True)
class MeasureOptions:
    repeats: int = 20
    count_repeats: int = 3
    min_speedup: float = 1.1
    alpha: float = 0.05
    counter: str = "auto"  # auto | perf | callgrind | none
    pin: bool = True
    metric: str = "wall"  # wall | cpu: the times the speed-up and its test are computed on
    run_timeout: float = 120.0
    count_timeout: float = 900.0
    count_fraction: float = 0.25  # counts are deterministic: a smaller SCALE keeps valgrind's time down


def pinned_cpu(session: PerfSession) -> int | None:
    res = session.env.execute(f"{session.env.python} -c 'import os; print(max(os.sched_getaffinity(0)))'", timeout=60)
    try:
        return int(res.output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def count_instructions(session: PerfSession, script: str, commit: str, scale: int, counter: str,
                       cpu: int | None, timeout: float) -> tuple[int | None, str, str]:
    """(instructions of the timed call or None, the error, how they were counted)."""
    full = session.run(script, commit, scale=scale, warmup=0, cpu=cpu, count=counter, timeout=timeout)
    if counter == "callgrind":  # only the timed call was counted
        if full.ok and full.instructions:
            return full.instructions, "", "callgrind: the timed call only"
        if not full.ok:
            return None, (full.error or "the counted run failed")[-300:], counter
        # a stripped interpreter: callgrind cannot see _PyEval_CallTracing, so count whole processes
        counter = "callgrind-all"
        full = session.run(script, commit, scale=scale, warmup=0, cpu=cpu, count=counter, timeout=timeout)
    base = session.run(script, commit, scale=scale, warmup=0, cpu=cpu, count=counter, setup_only=True, timeout=timeout)
    if not full.ok or not base.ok or full.instructions is None or base.instructions is None:
        return None, (full.error or base.error or "the counter printed no count")[-300:], counter
    return full.instructions - base.instructions, "", f"{counter}: whole run minus a setup-only run"


def measure_one(session: PerfSession, script: str, harness: PerfHarness, cand: PerfCandidate,
                opts: MeasureOptions) -> PerfMeasurement:
    cpu = pinned_cpu(session) if opts.pin else None
    scale = max(1, harness.scale)
    digests: set[str] = set()

    def run(commit: str):
        result = session.run(script, commit, scale=scale, cpu=cpu, timeout=opts.run_timeout)
        if not result.ok:
            raise RuntimeError(f"the harness failed at {commit[:12]}: {result.error[-300:]}")
        digests.add(result.digest or "")
        return result

    run(cand.parent), run(cand.commit)  # warm-up pair: file caches, pyc, the CPU's frequency
    wall_a, wall_b, cpu_a, cpu_b = [], [], [], []
    for _ in range(opts.repeats):
        a, b = run(cand.parent), run(cand.commit)
        wall_a.append(a.wall), wall_b.append(b.wall), cpu_a.append(a.cpu), cpu_b.append(b.cpu)
    counter = session.counter() if opts.counter == "auto" else opts.counter
    instr_a, instr_b, count_error, mode = [], [], "", ""
    count_scale = max(1, round(scale * opts.count_fraction))
    if counter != "none":
        for _ in range(opts.count_repeats):
            ia, _da, mode = count_instructions(session, script, cand.parent, count_scale, counter, cpu,
                                               opts.count_timeout)
            ib, _db, mode = count_instructions(session, script, cand.commit, count_scale, counter, cpu,
                                               opts.count_timeout)
            if ia is None or ib is None:
                count_error = _da if ia is None else _db
                instr_a, instr_b = [], []
                break
            instr_a.append(ia), instr_b.append(ib)
        if not instr_a:
            counter = "none"
    ta, tb = (cpu_a, cpu_b) if opts.metric == "cpu" else (wall_a, wall_b)
    speedup = stats.speedup(ta, tb)
    lo, hi = stats.bootstrap_ci(ta, tb)
    _, p = stats.mann_whitney_u(ta, tb)
    instr_ratio = median(instr_a) / median(instr_b) if instr_a and median(instr_b) > 0 else None
    equal = len(digests) == 1
    reasons = []
    if not equal:
        reasons.append("results differ between runs or versions")
    if speedup is None or speedup < opts.min_speedup:
        reasons.append(f"speed-up {speedup:.3f} < {opts.min_speedup}" if speedup else "no speed-up")
    if p >= opts.alpha:
        reasons.append(f"not significant (Mann-Whitney p = {p:.3g} >= {opts.alpha})")
    if instr_ratio is not None and instr_ratio <= 1.0:
        reasons.append(f"instruction counts disagree (A/B = {instr_ratio:.3f})")
    extra = {"count_error": count_error} if count_error else {"count_mode": mode} if instr_a else {}
    extra.update(metric=opts.metric, wall_speedup=stats.speedup(wall_a, wall_b),
                 cpu_speedup=stats.speedup(cpu_a, cpu_b), cv_wall_a=stats.cv(wall_a), cv_wall_b=stats.cv(wall_b),
                 cv_instr_a=stats.cv(instr_a), cv_instr_b=stats.cv(instr_b), scale=scale, count_scale=count_scale,
                 loadavg=os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
    return PerfMeasurement(
        candidate=cand.id, admitted=not reasons, reason="; ".join(reasons), repeats=opts.repeats,
        wall_a=tuple(wall_a), wall_b=tuple(wall_b), cpu_a=tuple(cpu_a), cpu_b=tuple(cpu_b), counter=counter,
        instr_a=tuple(instr_a), instr_b=tuple(instr_b), speedup=speedup, ci_low=lo, ci_high=hi, p_value=p,
        instr_ratio=instr_ratio, equal=equal, pinned_cpu=cpu, extra=extra)


def measure_all(exp: Experiment, harnesses: list[PerfHarness], candidates: dict[str, PerfCandidate],
                open_session: Callable[[str], PerfSession], opts: MeasureOptions, *,
                echo: Callable[[str], None] = lambda s: None,
                saved: Callable[[list[PerfMeasurement]], None] = lambda done: None) -> list[PerfMeasurement]:
    """Measure every passed harness; `saved` gets the results so far after each one (a long run that is
    interrupted keeps what it measured)."""
    out = []
    for harness in harnesses:
        cand = candidates.get(harness.candidate)
        if harness.status != "passed" or cand is None:
            continue
        try:
            session = open_session(cand.repo)
            m = measure_one(session, session.put_script(exp.dir / harness.script), harness, cand, opts)
        except Exception as exc:  # noqa: BLE001 - one candidate's failure never aborts the batch
            m = PerfMeasurement(candidate=harness.candidate, admitted=False,
                                reason=f"{type(exc).__name__}: {exc}"[:500])
        if m.speedup:
            echo(f"measure {m.candidate}: {'admitted' if m.admitted else 'rejected'} speed-up {m.speedup:.3f} "
                 f"[{m.ci_low:.3f}, {m.ci_high:.3f}] p={m.p_value:.3g} instructions A/B="
                 f"{m.instr_ratio if m.instr_ratio is None else round(m.instr_ratio, 3)} ({m.counter})"
                 + (f": {m.reason}" if m.reason else ""))
        else:
            echo(f"measure {m.candidate}: rejected: {m.reason}")
        out.append(m)
        saved(out)
    return out
