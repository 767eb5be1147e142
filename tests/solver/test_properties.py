"""Property tests: random small problems, every answer checked; tiny ones against brute force.

The brute force enumerates every order of the operations that respects their precedences and
every choice of resource, and places each operation in that order at its earliest feasible
start (a serial schedule generation with exact capacity profiles). For objectives that only
grow with the end times (both of ours), that set of schedules holds an optimum: take an
optimal schedule, order its operations by start, and each lands no later than there.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from taktline.solver import (
    Calendar,
    Infeasible,
    Job,
    Mode,
    Objective,
    Operation,
    Pinned,
    Problem,
    Resource,
    solve,
)
from taktline.solver.cpsat import solve_cpsat
from taktline.solver.heuristic import evaluate
from taktline.solver.problem import prepare
from tests.solver.helpers import assert_valid

LONG = 10_000


@st.composite
def calendars(draw: st.DrawFn) -> Calendar | None:
    if draw(st.booleans()):
        return None
    intervals = []
    at = draw(st.integers(0, 3))
    for _ in range(draw(st.integers(1, 4))):
        length = draw(st.integers(2, 12))
        intervals.append((at, at + length))
        at += length + draw(st.integers(1, 6))
    intervals.append((at, LONG))  # room for everything in the end
    return Calendar(tuple(intervals))


@dataclass
class Shape:
    max_ops: int
    min_duration: int
    pinned: bool


@st.composite
def problems(draw: st.DrawFn, shape: Shape) -> Problem:
    n_res = draw(st.integers(1, 3))
    resources = tuple(
        Resource(f"R{r}", capacity=draw(st.sampled_from([1, 1, 2])), calendar=draw(calendars()))
        for r in range(n_res)
    )
    n_ops = draw(st.integers(1, shape.max_ops))
    n_jobs = draw(st.integers(1, min(3, n_ops)))
    sizes = [1] * n_jobs
    for _ in range(n_ops - n_jobs):
        sizes[draw(st.integers(0, n_jobs - 1))] += 1
    jobs = []
    for j, size in enumerate(sizes):
        ops = []
        for k in range(size):
            eligible = draw(
                st.lists(st.integers(0, n_res - 1), min_size=1, max_size=2, unique=True)
            )
            ops.append(
                Operation(
                    f"J{j}o{k}",
                    tuple(
                        Mode(f"R{r}", draw(st.integers(shape.min_duration, 8))) for r in eligible
                    ),
                    interruptible=draw(st.booleans()),
                )
            )
        preds = tuple(f"J{p}" for p in range(j) if draw(st.integers(0, 3)) == 0)
        jobs.append(
            Job(
                f"J{j}",
                tuple(ops),
                release=draw(st.integers(0, 10)),
                due=draw(st.one_of(st.none(), st.integers(0, 40))),
                weight=draw(st.integers(1, 3)),
                predecessors=preds,
            )
        )
    pinned: list[Pinned] = []
    if shape.pinned:
        # In-process work: the first operation of a job that waits for no other job.
        for job in jobs:
            if not job.predecessors and draw(st.integers(0, 2)) == 0:
                first = job.operations[0]
                start = draw(st.integers(-5, 15))
                length = draw(st.integers(1, 8))
                resource = draw(st.sampled_from([m.resource for m in first.modes]))
                pinned.append(Pinned(first.id, resource, start, start + length))
    objective = draw(st.sampled_from(list(Objective)))
    return Problem(resources, tuple(jobs), tuple(pinned), objective)


# ---- brute force ----------------------------------------------------------------------------


def brute_force(problem: Problem) -> tuple[int, int] | None:
    """The best (primary, makespan) over every order and resource choice; None: infeasible."""
    resources = {r.id: r for r in problem.resources}
    jobs = {j.id: j for j in problem.jobs}
    pinned = {p.operation: p for p in problem.pinned}
    ops = [(job, k, o) for job in problem.jobs for k, o in enumerate(job.operations)]
    preds: dict[str, list[str]] = {}
    for job, k, o in ops:
        if k > 0:
            preds[o.id] = [job.operations[k - 1].id]
        else:
            preds[o.id] = [jobs[p].operations[-1].id for p in job.predecessors]
    free = [(job, o) for job, _, o in ops if o.id not in pinned]
    best: tuple[int, int] | None = None
    for order in itertools.permutations(free):
        position = {o.id: n for n, (_, o) in enumerate(order)}
        if any(
            p in position and position[p] > position[o.id] for _, o in order for p in preds[o.id]
        ):
            continue
        for modes in itertools.product(*(o.modes for _, o in order)):
            result = _place(problem, resources, pinned, preds, order, modes)
            if result is not None and (best is None or result < best):
                best = result
    return best


def _place(problem, resources, pinned, preds, order, modes):
    start: dict[str, int] = {}
    end: dict[str, int] = {}
    on: dict[str, list[tuple[int, int]]] = {r: [] for r in resources}
    for p in pinned.values():
        start[p.operation], end[p.operation] = p.start, p.end
        if p.end > p.start:
            on[p.resource].append((p.start, p.end))
    for r, windows in on.items():
        if any(
            sum(1 for a, b in windows if a <= s < b) > resources[r].capacity for s, _ in windows
        ):
            return None  # pinned work beyond capacity
    for (job, o), mode in zip(order, modes, strict=True):
        res = resources[mode.resource]
        t0 = max(0, job.release, *(end[p] for p in preds[o.id]))
        cal = res.calendar
        d = mode.duration
        candidates = {t0} | {e for _, e in on[res.id] if e > t0}
        if cal is not None:
            candidates |= {s for s, _ in cal.intervals if s > t0}
        placed = None
        for c in sorted(candidates):
            if d == 0:
                placed = (c, c)
                break
            if cal is None:
                e = c + d
            elif o.interruptible:
                if not cal.is_working(c):
                    continue
                f = cal.finish(c, d)
                if f is None:
                    continue
                e = f
            else:
                stretch = cal.stretch_containing(c)
                if stretch is None or c + d > stretch[1]:
                    continue
                e = c + d
            points = [c] + [s for s, _ in on[res.id] if c < s < e]
            if all(sum(1 for s, f in on[res.id] if s <= x < f) < res.capacity for x in points):
                placed = (c, e)
                break
        if placed is None:
            return None
        start[o.id], end[o.id] = placed
        if placed[1] > placed[0]:
            on[res.id].append(placed)
    for op_id, p in pinned.items():
        if any(end[q] > p.start for q in preds[op_id]):
            return None
    makespan = max(0, *end.values())
    if problem.objective is Objective.MAKESPAN:
        return makespan, 0
    tardiness = sum(
        j.weight * max(0, end[j.operations[-1].id] - j.due)
        for j in problem.jobs
        if j.due is not None
    )
    return tardiness, makespan


# ---- the properties -------------------------------------------------------------------------


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(problems(Shape(max_ops=8, min_duration=0, pinned=True)))
def test_every_answer_is_a_valid_schedule(problem: Problem) -> None:
    try:
        proposal = solve(problem, time_limit_s=2.0, seed=1, workers=2)
    except Infeasible:
        assume(False)  # pinned work that overlaps: refused, rightly
        raise
    assert_valid(problem, proposal)
    assert proposal.bound <= proposal.value


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(problems(Shape(max_ops=8, min_duration=0, pinned=True)))
def test_the_heuristic_alone_is_a_valid_schedule(problem: Problem) -> None:
    try:
        proposal = solve(problem, time_limit_s=0.0)
    except Infeasible:
        assume(False)
        raise
    assert_valid(problem, proposal)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(problems(Shape(max_ops=5, min_duration=1, pinned=True)))
def test_tiny_problems_reach_the_brute_force_optimum(problem: Problem) -> None:
    expected = brute_force(problem)
    try:
        proposal = solve(problem, time_limit_s=10.0, seed=0, workers=2)
    except Infeasible:
        assert expected is None
        return
    assert_valid(problem, proposal)
    assert proposal.optimal, proposal
    got = (
        (proposal.makespan, 0)
        if problem.objective is Objective.MAKESPAN
        else (proposal.weighted_tardiness, proposal.makespan)
    )
    assert expected is not None
    assert got == expected

    # The same from the CP-SAT model alone: no hint, a horizon far beyond any optimum here
    # (releases <= 10, pinned work ends by 23, 5 operations of <= 8 minutes, short gaps).
    prep = prepare(problem)
    result = solve_cpsat(prep, problem.objective, horizon=300, time_limit_s=10, workers=2)
    assert result.optimal
    assert result.schedule is not None
    tardiness, makespan = evaluate(prep, result.schedule)
    alone = (makespan, 0) if problem.objective is Objective.MAKESPAN else (tardiness, makespan)
    assert alone == expected
