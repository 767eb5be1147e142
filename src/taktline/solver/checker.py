"""The schedule checker: every rule a schedule must keep, checked from the problem alone.

It does not reuse the solvers' prepared form, only the `Problem` as given, so that a mistake
in the shared preparation cannot hide a wrong schedule. Every scheduling test and the
job-shop benchmark run every answer through `check`. An empty list means valid.

Rules: each operation appears once; pinned (and in-process) work is exactly where it was
pinned; every other operation runs on one of its eligible resources for its duration there,
not before minute 0 nor its job's release; not interruptible: inside one working stretch of
the resource; interruptible: starts and ends in working time with exactly its duration in
working minutes between (the resource is held through the pause); operations of a job in
sequence and after the jobs it waits for; no resource runs more than its capacity at any
instant (operations of zero duration hold nothing).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from taktline.solver.calendar import Calendar
from taktline.solver.problem import Assignment, Problem, Proposal


def check(problem: Problem, assignments: Iterable[Assignment]) -> list[str]:
    violations: list[str] = []
    by_op: dict[str, Assignment] = {}
    for a in assignments:
        if a.operation in by_op:
            violations.append(f"operation {a.operation} is scheduled more than once")
        by_op[a.operation] = a
    resources = {r.id: r for r in problem.resources}
    pinned = {p.operation: p for p in problem.pinned}
    known = {o.id for j in problem.jobs for o in j.operations}
    for op_id in by_op:
        if op_id not in known:
            violations.append(f"operation {op_id} is not in the problem")

    ends: dict[str, int] = {}
    starts: dict[str, int] = {}
    for job in problem.jobs:
        for op in job.operations:
            found = by_op.get(op.id)
            if found is None:
                violations.append(f"operation {op.id} of job {job.id} is not scheduled")
                continue
            a = found
            starts[op.id], ends[op.id] = a.start, a.end
            if a.resource not in resources:
                violations.append(f"operation {op.id} is on unknown resource {a.resource}")
                continue
            pin = pinned.get(op.id)
            if pin is not None:
                if (a.resource, a.start, a.end) != (pin.resource, pin.start, pin.end):
                    violations.append(
                        f"pinned operation {op.id} moved: {pin.resource} [{pin.start}, "
                        f"{pin.end}) became {a.resource} [{a.start}, {a.end})"
                    )
                continue
            violations.extend(
                _check_operation(
                    job.release,
                    op.id,
                    op.interruptible,
                    a,
                    [m.duration for m in op.modes if m.resource == a.resource],
                    resources[a.resource].calendar,
                )
            )

    pred_jobs = {j.id: j for j in problem.jobs}
    for job in problem.jobs:
        ops = [o.id for o in job.operations]
        for before, after in itertools.pairwise(ops):
            if before in ends and after in starts and starts[after] < ends[before]:
                violations.append(
                    f"job {job.id}: operation {after} starts at {starts[after]}, before "
                    f"operation {before} ends at {ends[before]}"
                )
        for pred_id in job.predecessors:
            pred = pred_jobs.get(pred_id)
            if pred is None or not pred.operations or not ops:
                continue
            last, first = pred.operations[-1].id, ops[0]
            if last in ends and first in starts and starts[first] < ends[last]:
                violations.append(
                    f"job {job.id} starts at {starts[first]}, before job {pred_id} it waits "
                    f"for ends at {ends[last]}"
                )

    violations.extend(_check_capacity(problem, by_op.values()))
    return violations


def _check_operation(
    release: int,
    op_id: str,
    interruptible: bool,
    a: Assignment,
    durations: Sequence[int],
    calendar: Calendar | None,
) -> list[str]:
    out: list[str] = []
    if not durations:
        return [f"operation {op_id} is on {a.resource}, which is not eligible for it"]
    d = durations[0]
    if a.start < 0:
        out.append(f"operation {op_id} starts at {a.start}, before the horizon origin 0")
    if a.start < release:
        out.append(f"operation {op_id} starts at {a.start}, before its job's release {release}")
    if calendar is None or d == 0:
        if a.end - a.start != d:
            out.append(
                f"operation {op_id} lasts {a.end - a.start} minutes on {a.resource}; it takes {d}"
            )
        return out
    if not interruptible:
        if a.end - a.start != d:
            out.append(
                f"operation {op_id} lasts {a.end - a.start} minutes on {a.resource}; it takes {d}"
            )
        stretch = calendar.stretch_containing(a.start)
        if stretch is None or a.end > stretch[1]:
            out.append(
                f"operation {op_id} [{a.start}, {a.end}) is not inside one working "
                f"stretch of {a.resource}"
            )
        return out
    if not calendar.is_working(a.start):
        out.append(
            f"interruptible operation {op_id} starts at {a.start}, outside the "
            f"working time of {a.resource}"
        )
    if not calendar.is_working(a.end - 1):
        out.append(
            f"interruptible operation {op_id} ends at {a.end}, not at the end of a "
            f"working minute of {a.resource}"
        )
    worked = calendar.working_minutes(a.start, a.end)
    if worked != d:
        out.append(
            f"interruptible operation {op_id} gets {worked} working minutes on "
            f"{a.resource} in [{a.start}, {a.end}); it takes {d}"
        )
    return out


def _check_capacity(problem: Problem, assignments: Iterable[Assignment]) -> list[str]:
    capacity = {r.id: r.capacity for r in problem.resources}
    events: dict[str, list[tuple[int, int, str]]] = {}
    for a in assignments:
        if a.end > a.start and a.resource in capacity:
            events.setdefault(a.resource, []).extend(
                [(a.start, 1, a.operation), (a.end, -1, a.operation)]
            )
    out: list[str] = []
    for r, evs in events.items():
        load = 0
        running: set[str] = set()
        for at, delta, op in sorted(evs, key=lambda ev: (ev[0], ev[1])):
            # Ends sort before starts at one instant: windows are half-open.
            load += delta
            if delta > 0:
                running.add(op)
            else:
                running.discard(op)
            if load > capacity[r]:
                out.append(
                    f"resource {r} runs {load} operations at minute {at} "
                    f"({', '.join(sorted(running))}); its capacity is {capacity[r]}"
                )
    return out


def objective_values(problem: Problem, assignments: Iterable[Assignment]) -> tuple[int, int]:
    """(total weighted tardiness, makespan) of a schedule, from the problem alone."""
    end = {a.operation: a.end for a in assignments}
    tardiness = 0
    for job in problem.jobs:
        if job.due is not None and job.operations:
            finish = end.get(job.operations[-1].id, 0)
            tardiness += job.weight * max(0, finish - job.due)
    return tardiness, max(0, max(end.values(), default=0))


def check_proposal(problem: Problem, proposal: Proposal) -> list[str]:
    """`check`, and the proposal's reported makespan and tardiness match its schedule."""
    violations = check(problem, proposal.assignments)
    tardiness, makespan = objective_values(problem, proposal.assignments)
    if (tardiness, makespan) != (proposal.weighted_tardiness, proposal.makespan):
        violations.append(
            f"reported tardiness {proposal.weighted_tardiness} and makespan "
            f"{proposal.makespan}, but the schedule has {tardiness} and {makespan}"
        )
    if proposal.bound > proposal.value:
        violations.append(f"bound {proposal.bound} exceeds the value {proposal.value}")
    return violations
