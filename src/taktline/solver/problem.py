"""The scheduling problem and its answer, as plain frozen dataclasses.

Times are integer minutes from a horizon origin (minute 0 is "now": nothing that is not pinned
starts before it). The database layer converts datetimes to and from these minutes; nothing
here touches the web or the database.

Words: a *job* is a work order, an *operation* is one of its line items, in sequence. A *mode*
is one way to run an operation: an eligible resource and the duration there.

`prepare` checks a problem and turns it into `Prepared`: the same data as flat lists indexed
by integers, which the heuristic, the CP-SAT model, the checker and the benchmarks share.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from taktline.solver.calendar import Calendar


class Objective(enum.StrEnum):
    # Least total priority-weighted lateness first, then the earliest end of all work.
    WEIGHTED_TARDINESS = "weighted_tardiness"
    MAKESPAN = "makespan"


class Method(enum.StrEnum):
    HEURISTIC = "heuristic"
    CPSAT = "cp-sat"


@dataclass(frozen=True)
class Resource:
    id: str
    # How many operations it runs at once.
    capacity: int = 1
    # None: always working.
    calendar: Calendar | None = None


@dataclass(frozen=True)
class Mode:
    """One eligible resource for an operation, with the duration (working minutes) there."""

    resource: str
    duration: int


@dataclass(frozen=True)
class Operation:
    id: str
    modes: tuple[Mode, ...]
    # True: may stretch over non-working time, only working minutes count toward its
    # duration. False: must fit inside one working stretch of its resource.
    interruptible: bool = False


@dataclass(frozen=True)
class Job:
    """A work order: its operations run in the given sequence."""

    id: str
    operations: tuple[Operation, ...]
    release: int = 0
    due: int | None = None
    # Priority weight of one minute of lateness.
    weight: int = 1
    # Jobs that must finish before this one starts (brewing before bottling).
    predecessors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pinned:
    """An operation that stays where it is: in process, or pinned by the planner."""

    operation: str
    resource: str
    start: int
    end: int


@dataclass(frozen=True)
class Problem:
    resources: tuple[Resource, ...]
    jobs: tuple[Job, ...]
    pinned: tuple[Pinned, ...] = ()
    objective: Objective = Objective.WEIGHTED_TARDINESS


@dataclass(frozen=True)
class Assignment:
    """Where and when one operation runs: [start, end) on `resource`."""

    operation: str
    resource: str
    start: int
    end: int


@dataclass(frozen=True)
class Proposal:
    """A schedule for every operation, with how good it is known to be.

    `value` is the objective being minimised: the total weighted tardiness (minutes x
    weight) for WEIGHTED_TARDINESS, the makespan for MAKESPAN. `bound` is a proven lower
    bound on it, `gap` = (value - bound) / value (0.0 when both are 0). `optimal` means
    proven optimal for the whole objective (for WEIGHTED_TARDINESS: the tardiness and then
    the makespan).
    """

    assignments: tuple[Assignment, ...]
    objective: Objective
    value: int
    bound: int
    gap: float
    optimal: bool
    makespan: int
    weighted_tardiness: int
    seconds: float
    # OPTIMAL, FEASIBLE (CP-SAT), or HEURISTIC (CP-SAT not run or found nothing better).
    status: str
    method: Method
    # Why this method answered, e.g. "time limit too short for CP-SAT".
    note: str = ""
    heuristic_value: int | None = None


# ---- errors ---------------------------------------------------------------------------------


class SchedulingError(ValueError):
    """A problem that cannot be scheduled; the message names what and why."""


class InvalidProblem(SchedulingError):
    """Malformed data: duplicate ids, unknown references, cycles, negative durations."""


class NoEligibleResource(SchedulingError):
    def __init__(self, operation: str, reason: str) -> None:
        self.operation = operation
        self.reason = reason
        super().__init__(f"operation {operation} cannot be scheduled: {reason}")


class OperationDoesNotFit(SchedulingError):
    """Longer than any working stretch (not interruptible), or past the end of calendars."""

    def __init__(self, operation: str, reason: str) -> None:
        self.operation = operation
        self.reason = reason
        super().__init__(f"operation {operation} cannot be scheduled: {reason}")


class Infeasible(SchedulingError):
    """No schedule found: pinned work overlaps, or work must fit before pinned work."""


# ---- the prepared, index-based form ---------------------------------------------------------


@dataclass(frozen=True)
class PMode:
    resource: int
    duration: int


@dataclass
class Prepared:
    """A checked problem as flat lists: operation `i` is `op_ids[i]`, and so on.

    Operations are numbered job by job in sequence, so `job_first[j]..job_last[j]` are the
    operations of job `j` in order.
    """

    problem: Problem
    resource_ids: list[str]
    capacity: list[int]
    calendars: list[Calendar | None]
    op_ids: list[str]
    op_job: list[int]
    op_modes: list[list[PMode]]
    interruptible: list[bool]
    job_ids: list[str]
    job_first: list[int]
    job_last: list[int]
    release: list[int]
    due: list[int | None]
    weight: list[int]
    # Job indices that must finish before job j starts, and the reverse.
    job_preds: list[list[int]]
    job_succs: list[list[int]]
    # Operation index -> (resource index, start, end).
    pinned: dict[int, tuple[int, int, int]]
    # Operations in an order where every predecessor comes first.
    topo: list[int]
    # Earliest start ignoring capacities, and the least time from an operation's start
    # to the end of all work that must follow it (its own shortest duration included).
    head: list[int] = field(default_factory=list)
    tail: list[int] = field(default_factory=list)
    # Latest end of an operation that must finish before pinned work starts.
    deadline: dict[int, int] = field(default_factory=dict)
    op_index: dict[str, int] = field(default_factory=dict)

    @property
    def n_ops(self) -> int:
        return len(self.op_ids)

    def op_preds(self, i: int) -> list[int]:
        """Operations that must end before operation i starts."""
        j = self.op_job[i]
        if i != self.job_first[j]:
            return [i - 1]
        return [self.job_last[p] for p in self.job_preds[j]]

    def op_succs(self, i: int) -> list[int]:
        j = self.op_job[i]
        if i != self.job_last[j]:
            return [i + 1]
        return [self.job_first[s] for s in self.job_succs[j]]


def _check_unique(kind: str, ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for x in ids:
        if x in seen:
            raise InvalidProblem(f"{kind} id {x!r} appears more than once")
        seen.add(x)


def prepare(problem: Problem) -> Prepared:
    """Check the problem and index it; raises a `SchedulingError` naming what is wrong."""
    resource_ids = [r.id for r in problem.resources]
    _check_unique("resource", resource_ids)
    r_index = {rid: k for k, rid in enumerate(resource_ids)}
    for r in problem.resources:
        if r.capacity < 1:
            raise InvalidProblem(f"resource {r.id} has capacity {r.capacity}; at least 1")
    _check_unique("job", [j.id for j in problem.jobs])
    _check_unique("operation", [o.id for j in problem.jobs for o in j.operations])
    j_index = {j.id: k for k, j in enumerate(problem.jobs)}
    pinned_by_op = {p.operation: p for p in problem.pinned}
    if len(pinned_by_op) != len(problem.pinned):
        raise InvalidProblem("an operation is pinned more than once")

    calendars = [r.calendar for r in problem.resources]
    prep = Prepared(
        problem=problem,
        resource_ids=resource_ids,
        capacity=[r.capacity for r in problem.resources],
        calendars=calendars,
        op_ids=[],
        op_job=[],
        op_modes=[],
        interruptible=[],
        job_ids=[j.id for j in problem.jobs],
        job_first=[],
        job_last=[],
        release=[max(0, j.release) for j in problem.jobs],
        due=[j.due for j in problem.jobs],
        weight=[j.weight for j in problem.jobs],
        job_preds=[[] for _ in problem.jobs],
        job_succs=[[] for _ in problem.jobs],
        pinned={},
        topo=[],
    )
    for jk, job in enumerate(problem.jobs):
        if not job.operations:
            raise InvalidProblem(f"job {job.id} has no operations")
        if job.weight < 0:
            raise InvalidProblem(f"job {job.id} has a negative weight")
        for pred in job.predecessors:
            if pred not in j_index:
                raise InvalidProblem(f"job {job.id} waits for unknown job {pred!r}")
            if j_index[pred] not in prep.job_preds[jk]:
                prep.job_preds[jk].append(j_index[pred])
                prep.job_succs[j_index[pred]].append(jk)
        prep.job_first.append(len(prep.op_ids))
        for op in job.operations:
            i = len(prep.op_ids)
            prep.op_ids.append(op.id)
            prep.op_job.append(jk)
            prep.interruptible.append(op.interruptible)
            pin = pinned_by_op.pop(op.id, None)
            if pin is not None:
                if pin.resource not in r_index:
                    raise InvalidProblem(
                        f"operation {op.id} is pinned to unknown resource {pin.resource!r}"
                    )
                if pin.end < pin.start:
                    raise InvalidProblem(
                        f"operation {op.id} is pinned to a window that ends before it starts"
                    )
                prep.pinned[i] = (r_index[pin.resource], pin.start, pin.end)
            prep.op_modes.append(
                _usable_modes(
                    op, r_index, calendars, pinned=pin is not None, not_before=prep.release[jk]
                )
            )
        prep.job_last.append(len(prep.op_ids) - 1)
    if pinned_by_op:
        raise InvalidProblem(f"pinned operation {next(iter(pinned_by_op))!r} is not in any job")
    prep.op_index = {oid: i for i, oid in enumerate(prep.op_ids)}
    prep.topo = _topological_order(prep)
    _check_pinned_overlaps(prep)
    _heads_and_tails(prep)
    return prep


def _usable_modes(
    op: Operation,
    r_index: dict[str, int],
    calendars: list[Calendar | None],
    *,
    pinned: bool,
    not_before: int,
) -> list[PMode]:
    """The modes that can ever run, or a clear error naming the operation and why not."""
    if not op.modes and not pinned:
        raise NoEligibleResource(op.id, "it has no eligible resource")
    modes: list[PMode] = []
    reasons: list[str] = []
    for m in op.modes:
        if m.resource not in r_index:
            raise InvalidProblem(f"operation {op.id} names unknown resource {m.resource!r}")
        if m.duration < 0:
            raise InvalidProblem(f"operation {op.id} has a negative duration on {m.resource}")
        cal = calendars[r_index[m.resource]]
        if cal is not None and m.duration > 0:
            if op.interruptible:
                if cal.working_minutes(not_before, cal.end) < m.duration:
                    reasons.append(
                        f"{m.resource} has only {cal.working_minutes(not_before, cal.end)} "
                        f"working minutes left in its calendar, it needs {m.duration}"
                    )
                    continue
            elif cal.next_fit(not_before, m.duration) is None:
                reasons.append(
                    f"it takes {m.duration} minutes without interruption, but the longest "
                    f"working stretch of {m.resource} is {cal.longest_stretch(not_before)} "
                    "minutes"
                )
                continue
        modes.append(PMode(r_index[m.resource], m.duration))
    if not modes and not pinned:
        raise OperationDoesNotFit(op.id, "; ".join(reasons))
    return modes


def _topological_order(prep: Prepared) -> list[int]:
    """Jobs in dependency order (Kahn), each job's operations in sequence; refuses cycles."""
    n_jobs = len(prep.job_ids)
    indegree = [len(p) for p in prep.job_preds]
    ready = [j for j in range(n_jobs) if indegree[j] == 0]
    order: list[int] = []
    while ready:
        j = ready.pop()
        order.append(j)
        for s in prep.job_succs[j]:
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    if len(order) != n_jobs:
        stuck = next(prep.job_ids[j] for j in range(n_jobs) if indegree[j] > 0)
        raise InvalidProblem(f"job {stuck} is part of a cycle of job predecessors")
    return [i for j in order for i in range(prep.job_first[j], prep.job_last[j] + 1)]


def _check_pinned_overlaps(prep: Prepared) -> None:
    by_resource: dict[int, list[tuple[int, int, int]]] = {}
    for i, (r, s, e) in prep.pinned.items():
        if e > s:
            by_resource.setdefault(r, []).append((s, e, i))
    for r, windows in by_resource.items():
        events = sorted([(s, 1, i) for s, _, i in windows] + [(e, -1, i) for _, e, i in windows])
        load = 0
        for _, delta, i in events:  # ends sort before starts at one instant
            load += delta
            if load > prep.capacity[r]:
                raise Infeasible(
                    f"pinned work on {prep.resource_ids[r]} exceeds its capacity of "
                    f"{prep.capacity[r]} (at operation {prep.op_ids[i]})"
                )


def min_duration(prep: Prepared, i: int) -> int:
    if i in prep.pinned:
        _, s, e = prep.pinned[i]
        return e - s
    return min(m.duration for m in prep.op_modes[i])


def _heads_and_tails(prep: Prepared) -> None:
    """Heads and tails ignore capacities and calendars: valid bounds, cheap to compute."""
    n = prep.n_ops
    head = [0] * n
    end = [0] * n
    for i in prep.topo:
        if i in prep.pinned:
            _, s, e = prep.pinned[i]
            head[i], end[i] = s, e
            continue
        h = prep.release[prep.op_job[i]]
        for p in prep.op_preds(i):
            h = max(h, end[p])
        head[i] = h
        end[i] = h + min_duration(prep, i)
    tail = [0] * n
    for i in reversed(prep.topo):
        t = 0
        for s in prep.op_succs(i):
            t = max(t, tail[s])
        tail[i] = t + min_duration(prep, i)
    prep.head, prep.tail = head, tail
    # Work that precedes pinned work must end before it starts.
    deadline: dict[int, int] = {}
    for i in reversed(prep.topo):
        if i in prep.pinned:
            limit = prep.pinned[i][1]
        elif i in deadline:
            limit = deadline[i] - min_duration(prep, i)
        else:
            continue
        for p in prep.op_preds(i):
            if p not in prep.pinned:
                deadline[p] = min(deadline.get(p, limit), limit)
            elif prep.pinned[p][2] > limit:
                raise Infeasible(
                    f"pinned operation {prep.op_ids[p]} ends at minute {prep.pinned[p][2]}, "
                    f"after work that must follow it starts (minute {limit})"
                )
    prep.deadline = deadline
    for i, d in deadline.items():
        if end[i] > d:
            raise Infeasible(
                f"operation {prep.op_ids[i]} cannot end by minute {d}, which pinned work "
                f"after it requires (it ends at minute {end[i]} at the earliest)"
            )
