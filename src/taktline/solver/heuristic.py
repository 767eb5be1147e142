"""A fast dispatching heuristic: a serial list scheduler with insertion.

Operations become ready when everything before them has been placed (the previous
operation of their work order, the work orders they wait for). Among the ready ones a
priority rule picks the next, which goes where it ends earliest: on the eligible resource
(mode) and the parallel unit of that resource where it finishes first, in the earliest gap
of that unit's timeline that fits it within the calendar, also a gap before work already
placed (insertion, so the schedules are active, not only non-delay). Pinned work is placed
first and never moves.

Several rules run, one after another, and the best schedule by the objective wins; the
rules and their order are fixed, so the answer depends only on the problem. One pass costs
O(n log n) plus the gap searches, which are short when resources carry a few hundred
operations each (20,000 operations on 100 resources take well under a second a pass).

A resource of capacity c is c independent timelines (units). That is always feasible for
the capacity, and loses a little against a true cumulative profile, which CP-SAT then uses.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from taktline.solver.calendar import Calendar
from taktline.solver.problem import (
    Infeasible,
    Objective,
    OperationDoesNotFit,
    Prepared,
)


@dataclass
class Schedule:
    """An index-based schedule: operation i runs on resource[i] during [start[i], end[i])."""

    resource: list[int]
    start: list[int]
    end: list[int]
    rule: str = ""


def evaluate(prep: Prepared, schedule: Schedule) -> tuple[int, int]:
    """(total weighted tardiness, makespan) of a schedule."""
    tardiness = 0
    for j, last in enumerate(prep.job_last):
        due = prep.due[j]
        if due is not None and schedule.end[last] > due:
            tardiness += prep.weight[j] * (schedule.end[last] - due)
    makespan = max(schedule.end, default=0)
    return tardiness, max(makespan, 0)


def score(prep: Prepared, schedule: Schedule, objective: Objective) -> tuple[int, int]:
    """What the objective minimises, most important first."""
    tardiness, makespan = evaluate(prep, schedule)
    return (makespan, 0) if objective is Objective.MAKESPAN else (tardiness, makespan)


Rule = Callable[[Prepared, int], float]


def _most_work_remaining(prep: Prepared, i: int) -> float:
    # The longest chain of work still to do after this start: the classic for makespan.
    return -prep.tail[i]


def _least_slack(prep: Prepared, i: int) -> float:
    # Latest start that still meets the due date; jobs without one go last, longest first.
    due = prep.due[prep.op_job[i]]
    if due is None:
        return 1e15 - prep.tail[i]
    return float(due - prep.tail[i]) / math.sqrt(max(prep.weight[prep.op_job[i]], 1))


def _earliest_due(prep: Prepared, i: int) -> float:
    due = prep.due[prep.op_job[i]]
    return (1e15 if due is None else due) - prep.tail[i] * 1e-6


def _earliest_start(prep: Prepared, i: int) -> float:
    return prep.head[i] - prep.tail[i] * 1e-6


RULES: dict[Objective, tuple[tuple[str, Rule], ...]] = {
    Objective.MAKESPAN: (
        ("most-work-remaining", _most_work_remaining),
        ("earliest-start", _earliest_start),
    ),
    Objective.WEIGHTED_TARDINESS: (
        ("least-slack", _least_slack),
        ("earliest-due", _earliest_due),
        ("most-work-remaining", _most_work_remaining),
    ),
}


def heuristic(prep: Prepared, objective: Objective, max_passes: int | None = None) -> Schedule:
    """The best schedule of the dispatching rules for `objective`.

    Raises `Infeasible` when no rule places work before the pinned work that must follow it,
    and `OperationDoesNotFit` when an operation finds no room before its calendars end.
    """
    rules = RULES[objective]
    if max_passes is None:
        # Keep large problems within the time target: fewer passes.
        max_passes = len(rules) if prep.n_ops <= 5000 else 2
    best: Schedule | None = None
    best_score: tuple[int, int] | None = None
    failure: Infeasible | None = None
    for name, rule in rules[:max_passes]:
        try:
            candidate = list_schedule(prep, rule)
        except Infeasible as exc:
            failure = exc
            continue
        candidate.rule = name
        s = score(prep, candidate, objective)
        if best_score is None or s < best_score:
            best, best_score = candidate, s
    if best is None:
        assert failure is not None
        raise failure
    return best


class _Unit:
    """One parallel unit of a resource: its busy windows, sorted and disjoint."""

    __slots__ = ("ends", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def book(self, s: int, e: int) -> None:
        if e <= s:
            return  # takes no time, holds nothing
        k = bisect_right(self.starts, s)
        self.starts.insert(k, s)
        self.ends.insert(k, e)


def _fit(
    unit: _Unit, t: int, d: int, cal: Calendar | None, interruptible: bool
) -> tuple[int, int] | None:
    """The earliest [s, e) at or after t in a gap of `unit` and within the calendar."""
    starts, ends = unit.starts, unit.ends
    k = bisect_right(ends, t)
    n = len(starts)
    while True:
        # t lies at or after the end of busy window k - 1. A gap shorter than d cannot hold
        # the operation whatever the calendar (which only ever lengthens it): skip it cheaply.
        if k < n and starts[k] - t < d:
            t = ends[k]
            k += 1
            continue
        if cal is None:
            s, e = t, t + d
        elif interruptible and d > 0:
            found = cal.next_working(t)
            f = None if found is None else cal.finish(found, d)
            if found is None or f is None:
                return None
            s, e = found, f
        else:
            found = cal.next_fit(t, d)
            if found is None:
                return None
            s, e = found, found + d
        while k < n and ends[k] <= s:
            k += 1
        if k == n or e <= starts[k]:
            return s, e
        t = ends[k]
        k += 1


def list_schedule(prep: Prepared, rule: Rule) -> Schedule:
    n = prep.n_ops
    start = [0] * n
    end = [0] * n
    resource = [-1] * n
    units = [[_Unit() for _ in range(c)] for c in prep.capacity]
    preds = [prep.op_preds(i) for i in range(n)]
    succs = [prep.op_succs(i) for i in range(n)]
    waiting = [len(p) for p in preds]
    ready_at = [prep.release[prep.op_job[i]] for i in range(n)]

    # Pinned work first; on a resource of capacity c, greedy colouring by start time uses
    # at most c units because no instant has more than c pinned windows (checked earlier).
    for i, (r, s, e) in sorted(prep.pinned.items(), key=lambda kv: kv[1][1]):
        start[i], end[i], resource[i] = s, e, r
        for unit in units[r]:
            if not unit.ends or unit.ends[-1] <= s or e <= s:
                unit.book(s, e)
                break
        else:  # pragma: no cover - excluded by prepare()
            raise Infeasible(f"pinned work on {prep.resource_ids[r]} exceeds its capacity")
    for i in prep.pinned:
        for q in succs[i]:
            waiting[q] -= 1
            ready_at[q] = max(ready_at[q], end[i])

    def key(i: int) -> tuple[float, float, int]:
        # Work that must end before pinned work goes first, by that deadline.
        return (prep.deadline.get(i, math.inf), rule(prep, i), i)

    heap = [(key(i), i) for i in range(n) if waiting[i] == 0 and i not in prep.pinned]
    heapq.heapify(heap)
    calendars = prep.calendars
    placed = len(prep.pinned)
    while heap:
        _, i = heapq.heappop(heap)
        t = ready_at[i]
        interruptible = prep.interruptible[i]
        best: tuple[int, int, int, int] | None = None  # (end, start, resource, unit)
        for mode in prep.op_modes[i]:
            r = mode.resource
            for u, unit in enumerate(units[r]):
                window = _fit(unit, t, mode.duration, calendars[r], interruptible)
                if window is not None and (best is None or (window[1], window[0]) < best[:2]):
                    best = (window[1], window[0], r, u)
        if best is None:
            raise OperationDoesNotFit(
                prep.op_ids[i],
                f"no eligible resource has working time for it after minute {t}: "
                "the calendars end too early",
            )
        e, s, r, u = best
        units[r][u].book(s, e)
        start[i], end[i], resource[i] = s, e, r
        placed += 1
        limit = prep.deadline.get(i)
        if limit is not None and e > limit:
            raise Infeasible(
                f"operation {prep.op_ids[i]} ends at minute {e} at the earliest, but pinned "
                f"work after it starts at minute {limit}"
            )
        for q in succs[i]:
            waiting[q] -= 1
            if e > ready_at[q]:
                ready_at[q] = e
            if waiting[q] == 0 and q not in prep.pinned:
                heapq.heappush(heap, (key(q), q))
    if placed != n:  # pragma: no cover - prepare() refuses cycles
        raise Infeasible("some operations could not be ordered")
    return Schedule(resource, start, end)


def serial_makespan(prep: Prepared) -> int:
    """The makespan when every operation runs alone, one after another, in dependency order.

    A feasible schedule's makespan (pinned deadlines aside): the base of the horizon when
    the heuristic found no schedule. Not a bound on the makespan of an optimum for least
    weighted tardiness (that may run later to finish urgent work first).
    """
    units = [[_Unit() for _ in range(c)] for c in prep.capacity]
    end = [0] * prep.n_ops
    for i, (_, _, e) in prep.pinned.items():
        end[i] = e
    latest = 0
    for r, s, e in sorted(prep.pinned.values(), key=lambda w: w[1]):
        latest = max(latest, e)
        for unit in units[r]:
            if not unit.ends or unit.ends[-1] <= s or e <= s:
                unit.book(s, e)
                break
    at = 0
    for i in prep.topo:
        if i in prep.pinned:
            continue
        t = max(at, prep.release[prep.op_job[i]], *(end[p] for p in prep.op_preds(i)))
        best: tuple[int, int, int, int] | None = None
        for mode in prep.op_modes[i]:
            for u, unit in enumerate(units[mode.resource]):
                w = _fit(
                    unit, t, mode.duration, prep.calendars[mode.resource], prep.interruptible[i]
                )
                if w is not None and (best is None or w[1] < best[0]):
                    best = (w[1], w[0], mode.resource, u)
        if best is None:
            raise OperationDoesNotFit(
                prep.op_ids[i], "no eligible resource has working time left for it"
            )
        units[best[2]][best[3]].book(best[1], best[0])
        at = end[i] = best[0]
        latest = max(latest, at)
    return latest
