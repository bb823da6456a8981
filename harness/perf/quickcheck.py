"""`r2e perf quickcheck`: each harness runs once at A^ and once at B before it is measured.

It must run at both, return the same result at both, and take min_time..max_time seconds. A harness
that is too fast is scaled (SCALE grows) rather than rejected. One that crashes, or is nondeterministic,
or cannot be brought into the time window is repaired by the LLM when one is configured (the error goes
back to the model), else dropped with the reason. One whose two versions return different results is
dropped at once and never repaired: that commit changes what the code computes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

from harness.perf.execution import PerfSession, RunResult
from harness.perf.harnesses import extract_code, template
from r2e.experiment import Experiment
from r2e.stage_records import PerfCandidate, PerfHarness

MAX_SCALE = 1_000_000


@dataclass(frozen=True)
class QuickcheckOptions:
    min_time: float = 0.05
    max_time: float = 5.0
    max_repairs: int = 2
    run_timeout: float = 120.0


def _brief(run: RunResult) -> dict:
    return {"ok": run.ok, "wall": run.wall, "digest": run.digest, "error": run.error[-600:] if run.error else ""}


def check_once(session: PerfSession, script: str, cand: PerfCandidate, scale: int,
               opts: QuickcheckOptions) -> tuple[str, str, int, dict]:
    """(verdict, problem, scale, record): verdict is passed | repair | drop."""
    record: dict = {}
    for _ in range(8):  # scaling steps
        a = session.run(script, cand.parent, scale=scale, timeout=opts.run_timeout)
        b = session.run(script, cand.commit, scale=scale, timeout=opts.run_timeout)
        record = {"scale": scale, "a": _brief(a), "b": _brief(b)}
        if not a.ok or not b.ok:
            which = "A^ (the parent)" if not a.ok else "B (the commit)"
            bad = a if not a.ok else b
            return "repair", f"it fails at {which}:\n{bad.error}", scale, record
        if a.digest != b.digest:
            again = session.run(script, cand.parent, scale=scale, timeout=opts.run_timeout)
            if again.ok and again.digest == a.digest:
                record["equal"] = False
                return "drop", "outputs differ between A^ and B: the commit changes the result", scale, record
            return "repair", "its result is not deterministic (two runs at A^ returned different results)", \
                scale, record
        record["equal"] = True
        fast, slow = min(a.wall, b.wall), max(a.wall, b.wall)
        if slow > opts.max_time:
            return "repair", (f"it is too slow: {slow:.2f} s at SCALE={scale} (the window is "
                              f"{opts.min_time}-{opts.max_time} s); make the workload smaller"), scale, record
        if fast >= opts.min_time:
            return "passed", "", scale, record
        # Grow by at most 100x a step: a run of microseconds says little about a run of seconds.
        factor = min(100, math.ceil(2 * opts.min_time / max(fast, 1e-6)))
        factor = min(factor, int(opts.max_time / 2 / max(slow, 1e-6)))  # keep the slower version in the window
        if factor < 2 or scale * factor > MAX_SCALE:
            break
        scale *= factor
    return "repair", (f"it is too fast: {record['a'].get('wall')} s at SCALE={scale}; the workload must take at "
                      f"least {opts.min_time} s"), scale, record


def quickcheck_one(exp: Experiment, session: PerfSession, harness: PerfHarness, cand: PerfCandidate,
                   opts: QuickcheckOptions, client=None) -> PerfHarness:
    path = exp.dir / harness.script
    messages = list((harness.extra or {}).get("messages") or [])
    attempts = []
    scale = max(1, harness.scale)
    for attempt in range(opts.max_repairs + 1):
        remote = session.put_script(path)
        verdict, problem, scale, record = check_once(session, remote, cand, scale, opts)
        attempts.append({"attempt": attempt, "verdict": verdict, "problem": problem[-1500:], **record})
        if verdict == "passed":
            return replace(harness, status="passed", scale=scale, reason=None, quickcheck=record,
                           attempts=tuple(attempts))
        if verdict == "drop":
            return replace(harness, status="dropped", scale=scale, reason=problem, quickcheck=record,
                           attempts=tuple(attempts))
        if client is None or not messages or attempt == opts.max_repairs:
            break
        messages.append({"role": "user", "content": template("repair_harness.txt").substitute(problem=problem[-3000:])})
        try:
            reply = client.chat(messages, purpose="generate")
        except Exception as exc:  # noqa: BLE001 - the model failing ends this harness's repairs only
            attempts.append({"attempt": attempt + 1, "verdict": "drop", "problem": f"LLM: {type(exc).__name__}"})
            break
        messages.append({"role": "assistant", "content": reply.text})
        code = extract_code(reply.text)
        path.write_text(code or "# the model's reply had no setup()/experiment() script\n", encoding="utf-8")
        scale = 1
    last = attempts[-1]["problem"] if attempts else "not run"
    why = "quickcheck failed" + (" after repairs" if len(attempts) > 1 else "") + f": {last}"
    return replace(harness, status="dropped", scale=scale, reason=why[:2000],
                   quickcheck=attempts[-1] if attempts else {},
                   attempts=tuple(attempts),
                   extra={**harness.extra, "messages": messages} if messages else harness.extra)


def quickcheck_all(exp: Experiment, harnesses: list[PerfHarness], candidates: dict[str, PerfCandidate],
                   open_session: Callable[[str], PerfSession], opts: QuickcheckOptions, *, client=None,
                   echo: Callable[[str], None] = lambda s: None) -> list[PerfHarness]:
    out = []
    for harness in harnesses:
        cand = candidates.get(harness.candidate)
        if harness.status not in ("generated", "passed") or not harness.script or cand is None:
            out.append(harness)
            continue
        try:
            checked = quickcheck_one(exp, open_session(cand.repo), harness, cand, opts, client)
        except Exception as exc:  # noqa: BLE001 - one harness's failure never aborts the batch
            checked = replace(harness, status="dropped", reason=f"{type(exc).__name__}: {str(exc)[:300]}")
        echo(f"quickcheck {harness.candidate}: {checked.status}" + (f" ({checked.reason[:160]})" if checked.reason else
                                                                    f" (SCALE={checked.scale})"))
        out.append(checked)
    return out
