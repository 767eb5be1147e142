"""The CP-SAT model: interval variables per operation, one resource constraint per resource.

The model is built so that it costs nothing for what a problem does not use; on a plain job
shop (one resource per operation, capacity 1, no calendars) it is exactly the textbook
model: one fixed-size interval per operation, a NoOverlap per machine, precedences, and the
makespan, with tight bounds on every start from the heads and tails and the heuristic's
makespan as horizon.

- Alternatives: one optional interval per eligible resource, exactly one present, sharing
  the operation's start (and end, when the durations are fixed).
- Capacity 1: NoOverlap; capacity c > 1: Cumulative with demand 1 each.
- Calendars, not interruptible: the start's domain is the union of [a, b - d] over the
  working stretches [a, b) long enough, so the interval lies inside one of them. For
  propagation, the non-working gaps also enter the resource's NoOverlap or Cumulative as
  fixed intervals (when nothing interruptible runs there).
- Calendars, interruptible: start and end each lie in a working stretch, chosen by an index
  variable k through Element constraints, and end - start = d + (non-working minutes
  between the stretches of start and end), again by Element on the cumulative gap before
  each stretch. The interval spans the pause: the resource is held through it, as the
  checker also assumes (nothing else could run then anyway).
- Pinned work: fixed intervals in the resource constraints; precedences to constants.
- Objective: the makespan, or W x total weighted tardiness + makespan with W = horizon + 1,
  so that one minute of weighted lateness outweighs any makespan (lexicographic).
"""

from __future__ import annotations

import math
import os
import time
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass

from ortools.sat.python import cp_model

from taktline.solver.calendar import Calendar, subtract
from taktline.solver.heuristic import Schedule, evaluate
from taktline.solver.problem import Objective, Prepared

LinearExpr = cp_model.LinearExprT


@dataclass
class CpSatResult:
    schedule: Schedule | None
    # OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN, MODEL_INVALID
    status: str
    value: int | None
    bound: int
    optimal: bool
    seconds: float


def default_workers() -> int:
    """Search workers: at least 8 even on 2 cores.

    CP-SAT's portfolio with 8 workers includes the large-neighbourhood-search workers that
    find good job-shop schedules; with only 2 it runs two full searches. Measured on this
    2-core machine with the job-shop benchmark, 8 time-shared workers close more gaps in the
    same wall time than 2.
    """
    return max(8, os.cpu_count() or 1)


@dataclass
class _Mode:
    resource: int
    duration: int
    presence: cp_model.IntVar | None
    interval: cp_model.IntervalVar
    # Own start/end variables (interruptible alternatives), or None: the operation's.
    start: cp_model.IntVar | None = None
    end: cp_model.IntVar | None = None
    k_start: cp_model.IntVar | None = None
    k_end: cp_model.IntVar | None = None


def _has_gaps(cal: Calendar | None, lo: int, hi: int) -> bool:
    if cal is None:
        return False
    stretch = cal.stretch_containing(lo)
    return stretch is None or stretch[1] < hi


def _has_room(cal: Calendar | None, d: int, lo: int, h: int, interruptible: bool) -> bool:
    if cal is None or d == 0:
        return lo + d <= h
    if interruptible:
        return cal.working_minutes(lo, h) >= d
    s = cal.next_fit(lo, d)
    return s is not None and s + d <= h


def _start_domain(cal: Calendar, d: int, lo: int, hi: int) -> list[list[int]]:
    """Starts at which [s, s + d) lies in one working stretch, within [lo, hi]."""
    out = []
    for a, b in cal.intervals:
        s0, s1 = max(a, lo), min(b - d, hi)
        if s0 <= s1:
            out.append([s0, s1])
    return out


class _Builder:
    def __init__(self, prep: Prepared, objective: Objective, horizon: int) -> None:
        self.prep = prep
        self.objective = objective
        self.horizon = horizon
        self.model = cp_model.CpModel()
        n = prep.n_ops
        self.start: list[LinearExpr] = [0] * n
        self.end: list[LinearExpr] = [0] * n
        self.modes: list[list[_Mode]] = [[] for _ in range(n)]
        self.by_resource: list[list[cp_model.IntervalVar]] = [[] for _ in prep.resource_ids]
        self.interruptible_on: set[int] = set()
        self.makespan: cp_model.IntVar | None = None
        self.tardiness: list[tuple[int, cp_model.IntVar]] = []
        self.weight_scale = 1
        # For hints: the working-stretch starts an index variable points into, and the
        # variables fixed by an Element on an index: (variable, table, index).
        self.tables: dict[int, list[int]] = {}
        self.aux: list[tuple[cp_model.IntVar, list[int], cp_model.IntVar]] = []
        self.sizes: list[tuple[cp_model.IntVar, cp_model.IntVar, cp_model.IntVar]] = []

    def build(self, makespan_lower_bound: int) -> None:
        prep = self.prep
        for i in range(prep.n_ops):
            if i in prep.pinned:
                r, s, e = prep.pinned[i]
                self.start[i], self.end[i] = s, e
                if e > s:
                    self.by_resource[r].append(
                        self.model.new_fixed_size_interval_var(s, e - s, f"pin{i}")
                    )
            else:
                self._operation(i)
        for i in range(prep.n_ops):
            for p in prep.op_preds(i):
                if i in prep.pinned and p in prep.pinned:
                    continue  # checked by prepare()
                self.model.add(self.start[i] >= self.end[p])
        self._resources()
        self._objective(makespan_lower_bound)

    def _operation(self, i: int) -> None:
        prep, m, h = self.prep, self.model, self.horizon
        lo = prep.head[i]
        hi = h - prep.tail[i]
        end_hi = min(h, prep.deadline.get(i, h))
        interruptible = prep.interruptible[i]
        # Modes that have no room before the horizon do not enter the model.
        modes = [
            md
            for md in prep.op_modes[i]
            if _has_room(prep.calendars[md.resource], md.duration, lo, h, interruptible)
        ] or prep.op_modes[i][:1]
        single = len(modes) == 1
        if single:
            mode = modes[0]
            cal = prep.calendars[mode.resource]
            d = mode.duration
            if interruptible and d > 0 and _has_gaps(cal, lo, h):
                assert cal is not None
                self._interruptible_single(i, mode.resource, d, cal, lo, hi, end_hi)
                return
            if d > 0 and cal is not None and _has_gaps(cal, lo, h):
                dom = cp_model.Domain.from_intervals(_start_domain(cal, d, lo, min(hi, end_hi - d)))
                s = m.new_int_var_from_domain(dom, f"s{i}")
            else:
                s = m.new_int_var(lo, min(hi, end_hi - d), f"s{i}")
            itv = m.new_fixed_size_interval_var(s, d, f"x{i}")
            self.start[i], self.end[i] = s, s + d
            self.modes[i].append(_Mode(mode.resource, d, None, itv))
            self.by_resource[mode.resource].append(itv)
            return

        s = m.new_int_var(lo, hi, f"s{i}")
        self.start[i] = s
        fixed = all(
            not (
                interruptible and md.duration > 0 and _has_gaps(prep.calendars[md.resource], lo, h)
            )
            for md in modes
        )
        e_var = None if fixed else m.new_int_var(lo, end_hi, f"e{i}")
        presences = []
        for k, md in enumerate(modes):
            r, d = md.resource, md.duration
            cal = prep.calendars[r]
            p = m.new_bool_var(f"p{i}_{k}")
            presences.append(p)
            if interruptible and d > 0 and _has_gaps(cal, lo, h):
                assert cal is not None
                assert e_var is not None
                sm, em, ks, ke = self._stretched(f"{i}_{k}", d, cal, lo, h)
                z = m.new_int_var(d, h, f"z{i}_{k}")
                self.sizes.append((z, sm, em))
                itv = m.new_optional_interval_var(sm, z, em, p, f"x{i}_{k}")
                m.add(sm == s).only_enforce_if(p)
                m.add(em == e_var).only_enforce_if(p)
                self.modes[i].append(_Mode(r, d, p, itv, sm, em, ks, ke))
                self.interruptible_on.add(r)
            else:
                if d > 0 and cal is not None and _has_gaps(cal, lo, h):
                    dom = cp_model.Domain.from_intervals(_start_domain(cal, d, lo, hi))
                    m.add_linear_expression_in_domain(s, dom).only_enforce_if(p)
                itv = m.new_optional_fixed_size_interval_var(s, d, p, f"x{i}_{k}")
                if e_var is not None:
                    m.add(e_var == s + d).only_enforce_if(p)
                self.modes[i].append(_Mode(r, d, p, itv))
            self.by_resource[r].append(itv)
        m.add_exactly_one(presences)
        if e_var is not None:
            self.end[i] = e_var
        else:
            self.end[i] = s + sum(p * md.duration for p, md in zip(presences, modes, strict=True))
            m.add(self.end[i] <= end_hi)

    def _stretched(
        self, name: str, d: int, cal: Calendar, lo: int, h: int
    ) -> tuple[cp_model.IntVar, cp_model.IntVar, cp_model.IntVar, cp_model.IntVar]:
        """Start and end of an interruptible operation of d working minutes on `cal`.

        Only the working stretches that meet [lo, h) enter the model: a calendar expanded
        over months must not turn into Element tables of thousands of entries.
        """
        m = self.model
        ivs = [(a, b) for a, b in cal.intervals if b > lo and a < h] or [cal.intervals[-1]]
        starts = [a for a, _ in ivs]
        ends = [b for _, b in ivs]
        # Non-working minutes before each stretch (counted from the calendar's start).
        gap_before = [a - cal.worked_before(a) for a in starts]
        s = m.new_int_var_from_domain(
            cp_model.Domain.from_intervals([[a, b - 1] for a, b in ivs]), f"s{name}"
        )
        e = m.new_int_var_from_domain(
            cp_model.Domain.from_intervals([[a + 1, b] for a, b in ivs]), f"e{name}"
        )
        m.add(s >= lo)
        ks = m.new_int_var(0, len(ivs) - 1, f"ks{name}")
        ke = m.new_int_var(0, len(ivs) - 1, f"ke{name}")
        self.tables[ks.index] = starts
        self.tables[ke.index] = starts
        for k_var, x, first, last in ((ks, s, 0, -1), (ke, e, 1, 0)):
            for table, low, bound in ((starts, first, True), (ends, last, False)):
                v = m.new_int_var(min(table), max(table), f"v{name}")
                m.add_element(k_var, table, v)
                m.add(x >= v + low) if bound else m.add(x <= v + low)
                self.aux.append((v, table, k_var))
        for k_var in (ks, ke):
            g = m.new_int_var(min(gap_before), max(gap_before), f"g{name}")
            m.add_element(k_var, gap_before, g)
            self.aux.append((g, gap_before, k_var))
        gs, ge = self.aux[-2][0], self.aux[-1][0]
        m.add(e - s == d + ge - gs)
        m.add(ke >= ks)
        return s, e, ks, ke

    def _interruptible_single(
        self, i: int, r: int, d: int, cal: Calendar, lo: int, hi: int, end_hi: int
    ) -> None:
        m = self.model
        s, e, ks, ke = self._stretched(str(i), d, cal, lo, self.horizon)
        m.add(s <= hi)
        m.add(e <= end_hi)
        z = m.new_int_var(d, max(d, self.horizon - lo), f"z{i}")
        self.sizes.append((z, s, e))
        itv = m.new_interval_var(s, z, e, f"x{i}")
        self.start[i], self.end[i] = s, e
        self.modes[i].append(_Mode(r, d, None, itv, s, e, ks, ke))
        self.by_resource[r].append(itv)
        self.interruptible_on.add(r)

    def _resources(self) -> None:
        prep, m = self.prep, self.model
        pinned_windows: dict[int, list[tuple[int, int]]] = {}
        for r, s, e in prep.pinned.values():
            pinned_windows.setdefault(r, []).append((s, e))
        lo = min(prep.head, default=0)
        for r, intervals in enumerate(self.by_resource):
            if not intervals:
                continue
            cap = prep.capacity[r]
            cal = prep.calendars[r]
            gaps: list[cp_model.IntervalVar] = []
            if cal is not None and r not in self.interruptible_on:
                # Redundant for correctness (start domains already exclude the gaps), but
                # lets the NoOverlap reasoning see that the resource is not available then.
                holes = subtract(cal.gaps(lo, self.horizon), pinned_windows.get(r, []))
                gaps = [m.new_fixed_size_interval_var(a, b - a, f"gap{r}_{a}") for a, b in holes]
            if len(intervals) + len(gaps) < 2:
                continue
            if cap == 1:
                m.add_no_overlap(intervals + gaps)
            else:
                m.add_cumulative(intervals + gaps, [1] * len(intervals) + [cap] * len(gaps), cap)

    def _objective(self, makespan_lower_bound: int) -> None:
        prep, m, h = self.prep, self.model, self.horizon
        ms = m.new_int_var(min(makespan_lower_bound, h), h, "makespan")
        for last in prep.job_last:
            m.add(ms >= self.end[last])
        self.makespan = ms
        if self.objective is Objective.MAKESPAN:
            m.minimize(ms)
            return
        for j, last in enumerate(prep.job_last):
            due = prep.due[j]
            if due is None or prep.weight[j] == 0:
                continue
            t = m.new_int_var(0, max(0, h - due), f"t{j}")
            m.add(t >= self.end[last] - due)
            self.tardiness.append((j, t))
        if not self.tardiness:
            m.minimize(ms)
            return
        self.weight_scale = h + 1
        m.minimize(self.weight_scale * sum(prep.weight[j] * t for j, t in self.tardiness) + ms)

    def hint(self, schedule: Schedule) -> None:
        """A complete hint, auxiliary variables included, so CP-SAT starts from it at once."""
        prep, m = self.prep, self.model
        hinted: dict[int, int] = {}  # variable index -> value
        for i in range(prep.n_ops):
            if i in prep.pinned:
                continue
            s, e, r = schedule.start[i], schedule.end[i], schedule.resource[i]
            start = self.start[i]
            if isinstance(start, cp_model.IntVar):
                m.add_hint(start, s)
            end = self.end[i]
            if isinstance(end, cp_model.IntVar) and end is not start:
                m.add_hint(end, e)
            chosen = False
            for md in self.modes[i]:
                present = md.resource == r and not chosen
                chosen = chosen or present
                if md.presence is not None:
                    m.add_hint(md.presence, present)
                if md.start is not None and md.end is not None:
                    cal = prep.calendars[md.resource]
                    assert cal is not None
                    assert md.k_start is not None
                    assert md.k_end is not None
                    if present:
                        hs, he = s, e
                    else:
                        hs = cal.next_working(max(prep.head[i], cal.start)) or cal.start
                        he = cal.finish(hs, md.duration) or hs + md.duration
                    if md.start is not start:
                        m.add_hint(md.start, hs)
                        m.add_hint(md.end, he)
                    hinted[md.start.index], hinted[md.end.index] = hs, he
                    hinted[md.k_start.index] = _stretch_index(self.tables[md.k_start.index], hs)
                    hinted[md.k_end.index] = _stretch_index(self.tables[md.k_end.index], he - 1)
                    m.add_hint(md.k_start, hinted[md.k_start.index])
                    m.add_hint(md.k_end, hinted[md.k_end.index])
        for var, table, index in self.aux:
            if index.index in hinted:
                m.add_hint(var, table[hinted[index.index]])
        for z, zs, ze in self.sizes:
            if zs.index in hinted and ze.index in hinted:
                m.add_hint(z, hinted[ze.index] - hinted[zs.index])
        _tardiness, makespan = evaluate(prep, schedule)
        if self.makespan is not None:
            m.add_hint(self.makespan, makespan)
        for j, t in self.tardiness:
            due = prep.due[j]
            assert due is not None
            m.add_hint(t, max(0, schedule.end[prep.job_last[j]] - due))

    def extract(self, solver: cp_model.CpSolver) -> Schedule:
        prep = self.prep
        n = prep.n_ops
        start, end, resource = [0] * n, [0] * n, [-1] * n
        for i in range(n):
            if i in prep.pinned:
                resource[i], start[i], end[i] = prep.pinned[i]
                continue
            start[i] = int(solver.value(self.start[i]))
            end[i] = int(solver.value(self.end[i]))
            for md in self.modes[i]:
                if md.presence is None or solver.boolean_value(md.presence):
                    resource[i] = md.resource
                    break
        return Schedule(resource, start, end, rule="cp-sat")


def _stretch_index(starts: list[int], t: int) -> int:
    """The index of the working stretch (of those in the model) that holds minute t."""
    return max(0, bisect_right(starts, t) - 1)


def solve_cpsat(
    prep: Prepared,
    objective: Objective,
    *,
    horizon: int,
    time_limit_s: float,
    seed: int = 0,
    workers: int | None = None,
    hint: Schedule | None = None,
    makespan_lower_bound: int = 0,
    parameters: Mapping[str, object] | None = None,
) -> CpSatResult:
    """Solve with CP-SAT within `time_limit_s` wall seconds; all starts and ends <= horizon."""
    began = time.perf_counter()
    builder = _Builder(prep, objective, horizon)
    builder.build(makespan_lower_bound)
    if hint is not None:
        builder.hint(hint)
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.max_time_in_seconds = max(0.01, time_limit_s - (time.perf_counter() - began))
    params.num_workers = workers or default_workers()
    params.random_seed = seed
    params.log_search_progress = False
    for key, value in (parameters or {}).items():
        # Any other CP-SAT parameter by name, e.g. {"num_full_subsolvers": 2}.
        field = getattr(params, key)
        if isinstance(value, list | tuple):
            field.extend(value)
        elif isinstance(field, bool) and isinstance(value, str):
            setattr(params, key, value.lower() in ("1", "true", "yes"))
        else:
            setattr(params, key, type(field)(value))
    status = solver.solve(builder.model)
    name = solver.status_name(status)
    seconds = time.perf_counter() - began
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return CpSatResult(None, name, None, 0, False, seconds)
    schedule = builder.extract(solver)
    tardiness, makespan = evaluate(prep, schedule)
    raw_bound = solver.best_objective_bound
    optimal = status == cp_model.OPTIMAL
    if objective is Objective.MAKESPAN or not builder.tardiness:
        value = makespan if objective is Objective.MAKESPAN else tardiness
        if objective is Objective.MAKESPAN:
            bound = makespan if optimal else max(makespan_lower_bound, math.ceil(raw_bound - 1e-6))
        else:
            bound = 0  # nothing can be late: the weighted tardiness is 0
    else:
        value = tardiness
        w = builder.weight_scale
        bound = tardiness if optimal else max(0, math.ceil((raw_bound - horizon) / w - 1e-9))
    return CpSatResult(schedule, name, value, min(bound, value), optimal, seconds)
