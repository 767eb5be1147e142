"""Bottleneck analysis of a schedule over a horizon.

For each resource: the working time available in the horizon (working minutes x parallel
capacity), the time booked on it and the utilisation. The bottleneck is the resource, or the
resources within `tolerance`, whose utilisation is highest: it sets the pace of the plant.

For each late job: which resource held it up, and by which operations of other jobs. Of the
job's own operations, the one that waited longest between being ready (its job released,
the previous operation and the jobs it waits for done, its resource working) and its start
is blamed; the operations of other jobs that occupied that resource during the wait are what
held it up. A late job that never waited is late by its own length (or its predecessors').
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from taktline.solver.calendar import Calendar
from taktline.solver.problem import Assignment, Problem


@dataclass(frozen=True)
class ResourceLoad:
    resource: str
    # Working minutes x capacity in the horizon.
    available: int
    # Minutes of operations in the horizon (working minutes only, for interruptible ones).
    booked: int
    # booked / available; above 1 when pinned work runs outside working time.
    utilisation: float


@dataclass(frozen=True)
class LateJob:
    job: str
    due: int
    end: int
    lateness: int
    weighted_lateness: int
    # The resource it waited for longest and its operation that waited, or None.
    resource: str | None
    operation: str | None
    waited: int
    # Operations of other jobs on that resource during the wait, in time order.
    held_up_by: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class BottleneckReport:
    start: int
    end: int
    # Highest utilisation first.
    loads: tuple[ResourceLoad, ...]
    bottlenecks: tuple[str, ...]
    # Most weighted lateness first.
    late_jobs: tuple[LateJob, ...]


def _working(cal: Calendar | None, a: int, b: int) -> int:
    if b <= a:
        return 0
    return b - a if cal is None else cal.working_minutes(a, b)


def analyse(
    problem: Problem,
    assignments: Iterable[Assignment],
    start: int = 0,
    end: int | None = None,
    tolerance: float = 0.01,
) -> BottleneckReport:
    """Loads over [start, end) (end: the schedule's makespan when None) and late jobs."""
    by_op = {a.operation: a for a in assignments}
    if end is None:
        end = max((a.end for a in by_op.values()), default=start)
    resources = {r.id: r for r in problem.resources}
    interruptible = {o.id for j in problem.jobs for o in j.operations if o.interruptible}

    booked = dict.fromkeys(resources, 0)
    for a in by_op.values():
        if a.resource not in resources:
            continue
        lo, hi = max(a.start, start), min(a.end, end)
        cal = resources[a.resource].calendar
        booked[a.resource] += (
            _working(cal, lo, hi) if a.operation in interruptible else max(0, hi - lo)
        )
    loads = []
    for rid, r in resources.items():
        available = _working(r.calendar, start, end) * r.capacity
        work = booked[rid]
        utilisation = work / available if available else (float("inf") if work else 0.0)
        loads.append(ResourceLoad(rid, available, work, utilisation))
    loads.sort(key=lambda load: (-load.utilisation, load.resource))
    top = loads[0].utilisation if loads else 0.0
    bottlenecks = tuple(
        load.resource for load in loads if load.booked > 0 and load.utilisation >= top - tolerance
    )
    return BottleneckReport(start, end, tuple(loads), bottlenecks, _late_jobs(problem, by_op))


def _late_jobs(problem: Problem, by_op: dict[str, Assignment]) -> tuple[LateJob, ...]:
    resources = {r.id: r for r in problem.resources}
    jobs = {j.id: j for j in problem.jobs}
    on_resource: dict[str, list[tuple[Assignment, str]]] = {}
    job_of: dict[str, str] = {}
    for job in problem.jobs:
        for op in job.operations:
            job_of[op.id] = job.id
            if op.id in by_op:
                a = by_op[op.id]
                on_resource.setdefault(a.resource, []).append((a, job.id))
    late: list[LateJob] = []
    for job in problem.jobs:
        if job.due is None or not job.operations or job.operations[-1].id not in by_op:
            continue
        finish = by_op[job.operations[-1].id].end
        if finish <= job.due:
            continue
        ready = max(0, job.release)
        waited_for_jobs = [
            p
            for p in job.predecessors
            if p in jobs
            and jobs[p].operations
            and jobs[p].operations[-1].id in by_op
            and by_op[jobs[p].operations[-1].id].end > ready
        ]
        for p in waited_for_jobs:
            ready = max(ready, by_op[jobs[p].operations[-1].id].end)
        worst: tuple[int, str, Assignment, int] | None = None  # (wait, op, assignment, ready)
        for op in job.operations:
            found = by_op.get(op.id)
            if found is None:
                break
            a = found
            cal = resources[a.resource].calendar if a.resource in resources else None
            duration = a.end - a.start
            can_start: int | None = ready
            if cal is not None:
                can_start = (
                    cal.next_working(ready) if op.interruptible else cal.next_fit(ready, duration)
                )
            wait = a.start - (ready if can_start is None else can_start)
            if wait > 0 and (worst is None or wait > worst[0]):
                worst = (wait, op.id, a, a.start - wait)
            ready = max(ready, a.end)
        lateness = finish - job.due
        if worst is None:
            reason = (
                f"waits for job(s) {', '.join(waited_for_jobs)}"
                if waited_for_jobs
                else "its own work takes longer than the time to its due date"
            )
            late.append(
                LateJob(
                    job.id,
                    job.due,
                    finish,
                    lateness,
                    lateness * job.weight,
                    None,
                    None,
                    0,
                    (),
                    reason,
                )
            )
            continue
        wait, op_id, a, since = worst
        holders = sorted(
            (
                other
                for other, owner in on_resource.get(a.resource, [])
                if owner != job.id and other.start < a.start and other.end > since
            ),
            key=lambda other: (other.start, other.operation),
        )
        names = tuple(h.operation for h in holders)
        reason = f"operation {op_id} waited {wait} minutes for {a.resource}" + (
            f", busy with {', '.join(names)}" if names else ""
        )
        late.append(
            LateJob(
                job.id,
                job.due,
                finish,
                lateness,
                lateness * job.weight,
                a.resource,
                op_id,
                wait,
                names,
                reason,
            )
        )
    late.sort(key=lambda lj: (-lj.weighted_lateness, lj.job))
    return tuple(late)
