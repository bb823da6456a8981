"""`r2e perf export`: admitted measurements as GSO-style task records (perf/tasks.jsonl).

A task asks an agent to make `api` faster from `base_commit`; `prob_script` is the harness, and the
expert's speed-up (opt_commit over base_commit) is the yardstick: a patch scores its own speed-up over
the expert's (GSO counts >= 0.95 of it as a success)."""

from __future__ import annotations

from r2e.experiment import Experiment
from r2e.stage_records import PerfCandidate, PerfHarness, PerfMeasurement, PerfTask


def tasks(exp: Experiment, measurements: list[PerfMeasurement], candidates: dict[str, PerfCandidate],
          harnesses: dict[str, PerfHarness]) -> list[PerfTask]:
    out = []
    for m in measurements:
        cand, h = candidates.get(m.candidate), harnesses.get(m.candidate)
        if not m.admitted or cand is None or h is None or not h.script:
            continue
        build = exp.build_result(cand.repo)
        image = build.image if build is not None and build.backend == "docker" else None
        tests = tuple(cand.extra.get("tests") or ())  # the repo's own tests the commit touched
        out.append(PerfTask(
            instance_id=f"{cand.repo}__{cand.commit[:12]}", repo=cand.repo, base_commit=cand.parent,
            opt_commit=cand.commit, api=h.api or "", prob_script=(exp.dir / h.script).read_text(encoding="utf-8"),
            tests=tests, docker_image=image,
            extra={"scale": h.scale, "harness_source": h.source, "expert_speedup": m.speedup,
                   "expert_ci": [m.ci_low, m.ci_high], "p_value": m.p_value, "instr_ratio": m.instr_ratio,
                   "counter": m.counter, "success_threshold": 0.95, "subject": cand.subject}))
    return out


def harmonic_mean(speedups: list[float]) -> float | None:
    """GSO's aggregate over a task's workloads: one slow workload drags the mean down."""
    values = [s for s in speedups if s and s > 0]
    return len(values) / sum(1 / s for s in values) if values else None


def patch_score(patch_speedups: list[float], expert_speedups: list[float],
                threshold: float = 0.95) -> tuple[float | None, bool]:
    """(the patch's harmonic-mean speed-up over the expert's, success): success at >= threshold."""
    patch, expert = harmonic_mean(patch_speedups), harmonic_mean(expert_speedups)
    if patch is None or expert is None:
        return None, False
    score = patch / expert
    return score, score >= threshold
