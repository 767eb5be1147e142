"""Bottleneck analysis of a schedule over a horizon.

For each resource: the working time available in the horizon (working minutes x parallel
capacity), the time booked on it and the utilisation. The bottleneck is the resource, or the
resources within `tolerance`, whose utilisation is highest: it sets the pace of the plant.

For each late job: which resource held it up, and by which operations of other jobs. Of the
job's own operations, the one that waited longest between being ready (its job released,
the previous operation and the jobs it waits for done, its resource working) and its start
is blamed; the operations of other jobs that occupied that resource during the wait are what
held it up. A late job that never waited is late by its own length (or its predecessors').

`analyse` does it all for a whole schedule. Its parts serve a caller that reads only what it
shows (the database side sums the loads in SQL and explains the few late jobs it lists):
`summarise` (loads and bottleneck from minutes), `worst_wait`, `holds_up` and `late_job`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from taktline.solver.calendar import Calendar
from taktline.solver.problem import Assignment, Job, Problem


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


def working(cal: Calendar | None, a: int, b: int) -> int:
    """Working minutes in [a, b): every minute without a calendar."""
    if b <= a:
        return 0
    return b - a if cal is None else cal.working_minutes(a, b)


def summarise(
    loads: Iterable[tuple[str, int, int]], tolerance: float = 0.01
) -> tuple[tuple[ResourceLoad, ...], tuple[str, ...]]:
    """Each resource's load from its (resource, available, booked) minutes, the highest
    utilisation first, and the bottleneck(s): the resources with work booked whose
    utilisation is within `tolerance` of the highest."""
    found = []
    for rid, available, work in loads:
        utilisation = work / available if available else (float("inf") if work else 0.0)
        found.append(ResourceLoad(rid, available, work, utilisation))
    found.sort(key=lambda load: (-load.utilisation, load.resource))
    top = found[0].utilisation if found else 0.0
    bottlenecks = tuple(
        load.resource for load in found if load.booked > 0 and load.utilisation >= top - tolerance
    )
    return tuple(found), bottlenecks


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
            working(cal, lo, hi) if a.operation in interruptible else max(0, hi - lo)
        )
    loads, bottlenecks = summarise(
        ((rid, working(r.calendar, start, end) * r.capacity, booked[rid])
         for rid, r in resources.items()),
        tolerance,
    )  # fmt: skip
    return BottleneckReport(start, end, loads, bottlenecks, _late_jobs(problem, by_op))


@dataclass(frozen=True)
class Wait:
    """The longest a job's operation waited, ready, for its resource."""

    operation: str
    resource: str
    minutes: int
    # When it could have started (ready and its resource working); it started at since +
    # minutes.
    since: int
    start: int


def worst_wait(
    job: Job,
    by_op: Mapping[str, Assignment],
    calendars: Mapping[str, Calendar | None],
    finish_of: Mapping[str, int],
) -> tuple[Wait | None, tuple[str, ...]]:
    """Of the job's operations, the one that waited longest between being ready (the job
    released, the previous operation and the jobs it waits for done, its resource working)
    and its start; and the jobs it waited for. `finish_of`: when each job that may be a
    predecessor ends (those not in it are not waited for); `calendars`: by resource (a
    resource not in it works around the clock)."""
    ready = max(0, job.release)
    waited_for = tuple(p for p in job.predecessors if p in finish_of and finish_of[p] > ready)
    for p in waited_for:
        ready = max(ready, finish_of[p])
    worst: Wait | None = None
    for op in job.operations:
        a = by_op.get(op.id)
        if a is None:
            break
        cal = calendars.get(a.resource)
        can_start: int | None = ready
        if cal is not None:
            can_start = (
                cal.next_working(ready)
                if op.interruptible
                else cal.next_fit(ready, a.end - a.start)
            )
        wait = a.start - (ready if can_start is None else can_start)
        if wait > 0 and (worst is None or wait > worst.minutes):
            worst = Wait(op.id, a.resource, wait, a.start - wait, a.start)
        ready = max(ready, a.end)
    return worst, waited_for


def holds_up(wait: Wait, other: Assignment) -> bool:
    """Whether `other` (of another job, on the wait's resource) occupied it during the wait."""
    return other.start < wait.start and other.end > wait.since


def late_job(
    job: Job,
    finish: int,
    wait: Wait | None,
    waited_for: Sequence[str],
    holders: Sequence[str],
) -> LateJob:
    """Why `job`, ending at `finish` after its due date, is late: `holders` are the operations
    of other jobs that held up its worst wait, in time order."""
    assert job.due is not None
    lateness = finish - job.due
    if wait is None:
        reason = (
            f"waits for job(s) {', '.join(waited_for)}"
            if waited_for
            else "its own work takes longer than the time to its due date"
        )
        return LateJob(
            job.id, job.due, finish, lateness, lateness * job.weight, None, None, 0, (), reason
        )
    reason = f"operation {wait.operation} waited {wait.minutes} minutes for {wait.resource}" + (
        f", busy with {', '.join(holders)}" if holders else ""
    )
    return LateJob(
        job.id,
        job.due,
        finish,
        lateness,
        lateness * job.weight,
        wait.resource,
        wait.operation,
        wait.minutes,
        tuple(holders),
        reason,
    )


def _late_jobs(problem: Problem, by_op: dict[str, Assignment]) -> tuple[LateJob, ...]:
    calendars = {r.id: r.calendar for r in problem.resources}
    on_resource: dict[str, list[tuple[Assignment, str]]] = {}
    finish_of: dict[str, int] = {}
    for job in problem.jobs:
        for op in job.operations:
            if op.id in by_op:
                a = by_op[op.id]
                on_resource.setdefault(a.resource, []).append((a, job.id))
        if job.operations and job.operations[-1].id in by_op:
            finish_of[job.id] = by_op[job.operations[-1].id].end
    late: list[LateJob] = []
    for job in problem.jobs:
        if job.due is None or job.id not in finish_of or finish_of[job.id] <= job.due:
            continue
        wait, waited_for = worst_wait(job, by_op, calendars, finish_of)
        holders: list[Assignment] = []
        if wait is not None:
            holders = sorted(
                (
                    other
                    for other, owner in on_resource.get(wait.resource, [])
                    if owner != job.id and holds_up(wait, other)
                ),
                key=lambda other: (other.start, other.operation),
            )
        late.append(
            late_job(job, finish_of[job.id], wait, waited_for, [h.operation for h in holders])
        )
    late.sort(key=lambda lj: (-lj.weighted_lateness, lj.job))
    return tuple(late)
