"""The one entry point: `solve(problem, ...) -> Proposal`.

1. `prepare` checks the problem; an impossible one raises a `SchedulingError` that names
   the operation and the reason (no eligible resource, longer than any working stretch).
2. The dispatching heuristic places everything (milliseconds to a second or two).
3. Unless the heuristic is provably optimal already, the problem is too large, or too
   little time is left, CP-SAT improves it within the rest of the time limit, started from
   the heuristic's schedule as a hint, with the heuristic's makespan as horizon when the
   objective is the makespan.

Reproducibility: the heuristic is deterministic. CP-SAT gets `seed` as its random_seed.
With several workers (the default, see `cpsat.default_workers`) and a wall-clock limit, the
workers race and share solutions, so two runs with the same seed may return different
schedules, and, unless optimality is proven, different values. The same answer every time
needs a deterministic limit: `cpsat_parameters={"interleave_search": True,
"max_deterministic_time": X}` (parallel, deterministic) or `workers=1` with
`{"max_deterministic_time": X}`; the wall-clock `time_limit_s` must then not be reached.
A problem solved to proven optimality has the same value on every run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from taktline.solver.cpsat import solve_cpsat
from taktline.solver.heuristic import Schedule, heuristic, score, serial_makespan
from taktline.solver.problem import (
    Assignment,
    Infeasible,
    Method,
    Objective,
    Prepared,
    Problem,
    Proposal,
    prepare,
)

# Beyond this many operations the CP-SAT model takes too long to build and to get going:
# the heuristic's schedule is the answer.
MAX_CPSAT_OPERATIONS = 20_000
# With less time than this left after the heuristic, CP-SAT is not started.
MIN_CPSAT_SECONDS = 0.5


def makespan_lower_bound(prep: Prepared) -> int:
    """A cheap proven lower bound: the longest chain, and the load of each resource."""
    bound = max((h + t for h, t in zip(prep.head, prep.tail, strict=True)), default=0)
    load = [0] * len(prep.resource_ids)
    first = [10**18] * len(prep.resource_ids)
    for i in range(prep.n_ops):
        if i in prep.pinned:
            r, s, e = prep.pinned[i]
            load[r] += e - s
            first[r] = min(first[r], s)
        elif len(prep.op_modes[i]) == 1:
            r = prep.op_modes[i][0].resource
            load[r] += prep.op_modes[i][0].duration
            first[r] = min(first[r], prep.head[i])
    for r, work in enumerate(load):
        if work:
            cap = prep.capacity[r]
            bound = max(bound, first[r] + -(-work // cap))
    return max(bound, 0)


def solve(
    problem: Problem,
    time_limit_s: float = 10.0,
    seed: int = 0,
    objective: Objective | None = None,
    *,
    workers: int | None = None,
    max_cpsat_operations: int = MAX_CPSAT_OPERATIONS,
    cpsat_parameters: Mapping[str, object] | None = None,
) -> Proposal:
    """A schedule for every operation of `problem`, the best found within `time_limit_s`.

    Raises `NoEligibleResource`, `OperationDoesNotFit`, `InvalidProblem` or `Infeasible`
    (all `SchedulingError`, a `ValueError`) when the problem cannot be scheduled.
    """
    began = time.perf_counter()
    objective = objective or problem.objective
    prep = prepare(problem)
    lower = makespan_lower_bound(prep)

    start_schedule: Schedule | None
    failure: Infeasible | None = None
    try:
        start_schedule = heuristic(prep, objective)
    except Infeasible as exc:
        start_schedule, failure = None, exc

    def answer(
        schedule: Schedule,
        method: Method,
        status: str,
        bound: int,
        optimal: bool,
        note: str,
        heuristic_value: int | None,
    ) -> Proposal:
        tardiness, makespan = score(prep, schedule, Objective.WEIGHTED_TARDINESS)
        value = makespan if objective is Objective.MAKESPAN else tardiness
        bound = min(bound, value)
        return Proposal(
            assignments=tuple(
                Assignment(
                    prep.op_ids[i],
                    prep.resource_ids[schedule.resource[i]],
                    schedule.start[i],
                    schedule.end[i],
                )
                for i in range(prep.n_ops)
            ),
            objective=objective,
            value=value,
            bound=bound,
            gap=0.0 if value == bound else (value - bound) / value,
            optimal=optimal,
            makespan=makespan,
            weighted_tardiness=tardiness,
            seconds=time.perf_counter() - began,
            status=status,
            method=method,
            note=note,
            heuristic_value=heuristic_value,
        )

    h_value: int | None = None
    h_bound = lower if objective is Objective.MAKESPAN else 0
    if start_schedule is not None:
        tardiness, makespan = score(prep, start_schedule, Objective.WEIGHTED_TARDINESS)
        h_value = makespan if objective is Objective.MAKESPAN else tardiness
        if makespan <= lower and (objective is Objective.MAKESPAN or tardiness == 0):
            return answer(
                start_schedule,
                Method.HEURISTIC,
                "OPTIMAL",
                h_value,
                True,
                "the heuristic's schedule meets the lower bound",
                h_value,
            )
        remaining = time_limit_s - (time.perf_counter() - began)
        if prep.n_ops > max_cpsat_operations:
            return answer(
                start_schedule,
                Method.HEURISTIC,
                "HEURISTIC",
                h_bound,
                False,
                f"{prep.n_ops} operations: too many for CP-SAT (at most {max_cpsat_operations})",
                h_value,
            )
        if remaining < MIN_CPSAT_SECONDS:
            return answer(
                start_schedule,
                Method.HEURISTIC,
                "HEURISTIC",
                h_bound,
                False,
                "time limit too short for CP-SAT",
                h_value,
            )

    pinned_end = max((e for _, _, e in prep.pinned.values()), default=0)
    if objective is Objective.MAKESPAN and start_schedule is not None:
        horizon = score(prep, start_schedule, objective)[0]
    else:
        # Least weighted tardiness may take a longer makespan than the heuristic's: allow
        # twice that (twice all the work one after another, without a heuristic schedule).
        # A modelling choice, to keep the model small: a plan that needs more than twice
        # the heuristic's span to cut lateness is not sought, and "optimal" means optimal
        # among the plans that end by then.
        if start_schedule is not None:
            horizon = 2 * score(prep, start_schedule, Objective.MAKESPAN)[0]
        else:
            horizon = 2 * serial_makespan(prep)
        horizon = max(horizon, pinned_end, lower)
    result = solve_cpsat(
        prep,
        objective,
        horizon=horizon,
        time_limit_s=time_limit_s - (time.perf_counter() - began),
        seed=seed,
        workers=workers,
        hint=start_schedule,
        makespan_lower_bound=lower,
        parameters=cpsat_parameters,
    )
    if result.schedule is None or result.value is None:
        if start_schedule is None:
            assert failure is not None
            if result.status == "INFEASIBLE":
                raise failure
            raise Infeasible(f"{failure}; CP-SAT found no schedule either ({result.status})")
        return answer(
            start_schedule,
            Method.HEURISTIC,
            "HEURISTIC",
            h_bound,
            False,
            f"CP-SAT found no schedule in time ({result.status})",
            h_value,
        )
    if start_schedule is not None and score(prep, start_schedule, objective) < score(
        prep, result.schedule, objective
    ):
        # CP-SAT had too little time to reach its hint again: keep the better schedule.
        return answer(
            start_schedule,
            Method.HEURISTIC,
            "HEURISTIC",
            max(h_bound, result.bound),
            False,
            "CP-SAT found nothing better in time",
            h_value,
        )
    return answer(
        result.schedule, Method.CPSAT, result.status, result.bound, result.optimal, "", h_value
    )
