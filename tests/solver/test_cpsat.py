"""CP-SAT through `solve`: each feature of the model, and the errors for impossible problems."""

import pytest

from taktline.solver import (
    Calendar,
    Infeasible,
    InvalidProblem,
    Method,
    NoEligibleResource,
    Objective,
    OperationDoesNotFit,
    Pinned,
    Problem,
    Resource,
    solve,
)
from taktline.solver.cpsat import solve_cpsat
from taktline.solver.problem import prepare
from tests.solver.helpers import FT06, assert_valid, job, jobshop, op


def test_ft06_is_solved_to_its_optimum_55() -> None:
    problem = jobshop(FT06, 6)
    proposal = solve(problem, time_limit_s=10, workers=2)
    assert_valid(problem, proposal)
    assert (proposal.makespan, proposal.bound, proposal.optimal) == (55, 55, True)
    assert proposal.gap == 0.0
    assert proposal.heuristic_value is not None
    assert proposal.heuristic_value >= 55


def test_plain_job_shop_model_is_the_textbook_one() -> None:
    # One fixed-size interval per operation, no optional intervals, no calendar machinery.
    prep = prepare(jobshop(FT06, 6))
    from taktline.solver.cpsat import _Builder

    builder = _Builder(prep, Objective.MAKESPAN, horizon=60)
    builder.build(0)
    proto = builder.model.proto
    kinds = []
    for c in proto.constraints:
        kinds += [
            k
            for k in (
                "interval",
                "no_overlap",
                "linear",
                "cumulative",
                "element",
                "exactly_one",
                "bool_or",
            )
            if getattr(c, f"has_{k}")()
        ]
    assert kinds.count("interval") == 36
    assert kinds.count("no_overlap") == 6
    assert all(not c.enforcement_literal for c in proto.constraints)
    assert set(kinds) <= {"interval", "no_overlap", "linear"}
    # Every variable is a start or the makespan: 36 + 1.
    assert len(proto.variables) == 37


def test_alternatives_pick_the_faster_resource_when_it_helps() -> None:
    problem = Problem(
        (Resource("slow"), Resource("fast")),
        (
            job("A", op("a1", ("slow", 10), ("fast", 4))),
            job("B", op("b1", ("slow", 10), ("fast", 4))),
            job("C", op("c1", ("slow", 10), ("fast", 4))),
        ),
        objective=Objective.MAKESPAN,
    )
    proposal = solve(problem, time_limit_s=5, workers=2)
    assert_valid(problem, proposal)
    # Two on the fast one (8) and one on the slow (10): makespan 10? Three on fast: 12.
    assert proposal.makespan == 10
    assert proposal.optimal


def test_parallel_capacity_is_a_cumulative() -> None:
    problem = Problem(
        (Resource("oven", capacity=2),),
        tuple(job(f"J{k}", op(f"o{k}", ("oven", 5))) for k in range(5)),
        objective=Objective.MAKESPAN,
    )
    proposal = solve(problem, time_limit_s=5, workers=2)
    assert_valid(problem, proposal)
    assert proposal.makespan == 15
    assert proposal.optimal


def test_non_interruptible_waits_for_a_stretch_long_enough() -> None:
    cal = Calendar(((0, 8), (10, 30)))
    problem = Problem(
        (Resource("R", calendar=cal),),
        (job("J", op("o", ("R", 9))),),
        objective=Objective.MAKESPAN,
    )
    proposal = solve(problem, time_limit_s=5, workers=2)
    assert_valid(problem, proposal)
    assert (proposal.assignments[0].start, proposal.assignments[0].end) == (10, 19)


def test_interruptible_stretches_over_the_gap() -> None:
    cal = Calendar(((0, 8), (10, 30)))
    problem = Problem(
        (Resource("R", calendar=cal),),
        (job("J", op("o", ("R", 9), interruptible=True)),),
        objective=Objective.MAKESPAN,
    )
    proposal = solve(problem, time_limit_s=5, workers=2)
    assert_valid(problem, proposal)
    a = proposal.assignments[0]
    assert (a.start, a.end) == (0, 11)


def test_interruptible_alternatives_with_calendars_directly_in_cpsat() -> None:
    # The heuristic is not given as a hint here: CP-SAT finds the optimum on its own.
    problem = Problem(
        (
            Resource("A", calendar=Calendar(((0, 5), (20, 40)))),
            Resource("B", calendar=Calendar(((3, 6), (8, 40)))),
        ),
        (
            job("J1", op("x", ("A", 6), ("B", 6), interruptible=True), op("y", ("A", 3))),
            job("J2", op("z", ("B", 4), ("A", 2), interruptible=True)),
        ),
        objective=Objective.MAKESPAN,
    )
    prep = prepare(problem)
    result = solve_cpsat(prep, Objective.MAKESPAN, horizon=40, time_limit_s=5, workers=2)
    assert result.optimal
    assert result.schedule is not None
    proposal = solve(problem, time_limit_s=5, workers=2)
    assert_valid(problem, proposal)
    assert proposal.makespan == result.value


def test_weighted_tardiness_first_then_makespan() -> None:
    problem = Problem(
        (Resource("R"),),
        (
            job("low", op("l", ("R", 10)), due=10, weight=1),
            job("high", op("h", ("R", 10)), due=10, weight=5),
        ),
    )
    proposal = solve(problem, time_limit_s=5, workers=2)
    assert_valid(problem, proposal)
    by_op = {a.operation: a for a in proposal.assignments}
    assert by_op["h"].start == 0
    assert by_op["l"].start == 10
    assert (proposal.value, proposal.weighted_tardiness, proposal.makespan) == (10, 10, 20)
    assert proposal.optimal
    assert proposal.objective is Objective.WEIGHTED_TARDINESS


def test_release_and_predecessor_jobs() -> None:
    problem = Problem(
        (Resource("brew"), Resource("bottle")),
        (
            job("brewing", op("b", ("brew", 30)), release=15),
            job("bottling", op("f", ("bottle", 10)), predecessors=("brewing",)),
        ),
        objective=Objective.MAKESPAN,
    )
    proposal = solve(problem, time_limit_s=5, workers=2)
    assert_valid(problem, proposal)
    assert proposal.makespan == 55


def test_pinned_work_stays_and_others_go_around_it() -> None:
    problem = Problem(
        (Resource("R"),),
        (job("P", op("p", ("R", 5))), job("Q", op("q", ("R", 10)))),
        pinned=(Pinned("p", "R", 3, 8),),
        objective=Objective.MAKESPAN,
    )
    proposal = solve(problem, time_limit_s=5, workers=2)
    assert_valid(problem, proposal)
    assert proposal.makespan == 18


def test_short_time_limit_answers_with_the_heuristic_at_once() -> None:
    problem = jobshop(FT06, 6)
    proposal = solve(problem, time_limit_s=0.1)
    assert_valid(problem, proposal)
    assert proposal.method is Method.HEURISTIC
    assert proposal.status == "HEURISTIC"
    assert "too short" in proposal.note
    assert proposal.seconds < 1


def test_too_large_answers_with_the_heuristic() -> None:
    problem = jobshop(FT06, 6)
    proposal = solve(problem, time_limit_s=5, max_cpsat_operations=10)
    assert proposal.method is Method.HEURISTIC
    assert "too many" in proposal.note


def test_no_eligible_resource_names_the_operation() -> None:
    problem = Problem((Resource("R"),), (job("J", op("Labeling")),))
    with pytest.raises(NoEligibleResource, match=r"operation Labeling .*no eligible resource"):
        solve(problem, time_limit_s=1)


def test_longer_than_any_stretch_names_the_operation_and_the_reason() -> None:
    cal = Calendar(((0, 480), (1440, 1920)))
    problem = Problem(
        (Resource("Line 1", calendar=cal),), (job("J", op("Bottling", ("Line 1", 600))),)
    )
    with pytest.raises(OperationDoesNotFit) as info:
        solve(problem, time_limit_s=1)
    assert info.value.operation == "Bottling"
    assert "takes 600 minutes without interruption" in str(info.value)
    assert "longest working stretch of Line 1 is 480 minutes" in str(info.value)
    # Interruptible, it fits.
    ok = Problem(
        (Resource("Line 1", calendar=cal),),
        (job("J", op("Bottling", ("Line 1", 600), interruptible=True)),),
    )
    proposal = solve(ok, time_limit_s=2, workers=2)
    assert_valid(ok, proposal)
    assert proposal.assignments[0].end == 1440 + 120


def test_malformed_problems() -> None:
    with pytest.raises(InvalidProblem, match="unknown resource"):
        solve(Problem((Resource("R"),), (job("J", op("o", ("X", 1))),)))
    with pytest.raises(InvalidProblem, match="cycle"):
        solve(
            Problem(
                (Resource("R"),),
                (
                    job("A", op("a", ("R", 1)), predecessors=("B",)),
                    job("B", op("b", ("R", 1)), predecessors=("A",)),
                ),
            )
        )
    with pytest.raises(Infeasible, match="exceeds its capacity"):
        solve(
            Problem(
                (Resource("R"),),
                (job("A", op("a", ("R", 5))), job("B", op("b", ("R", 5)))),
                pinned=(Pinned("a", "R", 0, 5), Pinned("b", "R", 3, 8)),
            )
        )


def test_work_that_cannot_end_before_pinned_work_is_infeasible() -> None:
    problem = Problem(
        (Resource("R"),),
        (job("J", op("first", ("R", 10)), op("second", ("R", 5))),),
        pinned=(Pinned("second", "R", 5, 10),),
    )
    with pytest.raises(Infeasible, match="first"):
        solve(problem, time_limit_s=1)
