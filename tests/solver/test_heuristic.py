"""The dispatching heuristic: valid on every feature and deterministic, at any size."""

import pytest

from taktline.solver import (
    Infeasible,
    Method,
    Objective,
    Pinned,
    Problem,
    Resource,
    solve,
)
from taktline.solver.generate import random_plant
from taktline.solver.heuristic import evaluate, heuristic, serial_makespan
from taktline.solver.problem import prepare
from tests.solver.helpers import FT06, assert_valid, job, jobshop, op


@pytest.mark.parametrize("objective", list(Objective))
def test_valid_on_a_plant_with_every_feature(objective: Objective) -> None:
    problem = random_plant(600, 12, seed=3)
    proposal = solve(problem, time_limit_s=0.0, objective=objective)
    assert proposal.method is Method.HEURISTIC
    assert_valid(problem, proposal)


def test_deterministic() -> None:
    problem = random_plant(300, 8, seed=5)
    a = solve(problem, time_limit_s=0.0)
    b = solve(problem, time_limit_s=0.0)
    assert a.assignments == b.assignments


def test_insertion_fills_gaps_before_placed_work() -> None:
    # B is placed first (longest work remaining), but a fits into the hole before it.
    problem = Problem(
        (Resource("M1"), Resource("M2")),
        (
            job("long", op("x", ("M1", 10)), op("y", ("M2", 10))),
            job("short", op("a", ("M2", 5))),
        ),
        objective=Objective.MAKESPAN,
    )
    prep = prepare(problem)
    schedule = heuristic(prep, Objective.MAKESPAN)
    a = prep.op_index["a"]
    assert schedule.start[a] == 0
    assert evaluate(prep, schedule) == (0, 20)


def test_pinned_work_and_its_predecessors() -> None:
    problem = Problem(
        (Resource("R"),),
        (job("J", op("first", ("R", 4)), op("second", ("R", 5))), job("K", op("k", ("R", 20)))),
        pinned=(Pinned("second", "R", 10, 15),),
    )
    proposal = solve(problem, time_limit_s=0.0)
    assert_valid(problem, proposal)
    by_op = {a.operation: a for a in proposal.assignments}
    assert by_op["first"].end <= 10
    assert by_op["k"].start >= 15


def test_infeasible_deadline_before_pinned_work() -> None:
    problem = Problem(
        (Resource("R"),),
        (
            job("J", op("first", ("R", 8)), op("second", ("R", 5))),
            job("K", op("k", ("R", 5))),
        ),
        pinned=(Pinned("second", "R", 8, 13), Pinned("k", "R", 2, 7)),
    )
    with pytest.raises(Infeasible, match="first"):
        solve(problem, time_limit_s=0.0)


def test_serial_makespan_bounds_the_heuristic() -> None:
    prep = prepare(jobshop(FT06, 6))
    schedule = heuristic(prep, Objective.MAKESPAN)
    assert (
        evaluate(prep, schedule)[1]
        <= serial_makespan(prep)
        == sum(d for row in FT06 for _, d in row)
    )


def test_twenty_thousand_operations_on_a_hundred_resources_are_all_placed_validly() -> None:
    # How fast is measured by bench/scheduling_scale.py, which prints it; a test on a shared
    # machine checks only that the answer is right.
    problem = random_plant(20_000, 100, seed=1)
    proposal = solve(problem, time_limit_s=0.0)
    assert_valid(problem, proposal)
