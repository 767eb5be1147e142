"""The checker finds every kind of broken rule, and accepts a valid schedule."""

from taktline.solver import Assignment, Calendar, Pinned, Problem, Resource
from taktline.solver.checker import check, objective_values
from tests.solver.helpers import job, op

WORKING = Calendar(((0, 100), (200, 300)))


def problem() -> Problem:
    return Problem(
        resources=(
            Resource("A"),
            Resource("B", capacity=2),
            Resource("C", calendar=WORKING),
        ),
        jobs=(
            job(
                "J1",
                op("J1a", ("A", 10)),
                op("J1b", ("B", 20), ("C", 30)),
                release=5,
                due=50,
                weight=2,
            ),
            job("J2", op("J2a", ("C", 150), interruptible=True), predecessors=("J1",)),
            job("J3", op("J3a", ("B", 20))),
            job("J4", op("J4a", ("A", 5))),
        ),
        pinned=(Pinned("J4a", "A", 40, 45),),
    )


def valid() -> list[Assignment]:
    return [
        Assignment("J1a", "A", 5, 15),
        Assignment("J1b", "B", 15, 35),
        Assignment("J2a", "C", 35, 285),  # 65 + 85 working minutes: 150
        Assignment("J3a", "B", 20, 40),
        Assignment("J4a", "A", 40, 45),
    ]


def replace(assignments: list[Assignment], new: Assignment) -> list[Assignment]:
    return [new if a.operation == new.operation else a for a in assignments]


def test_valid_schedule_has_no_violations() -> None:
    assert check(problem(), valid()) == []


def test_objective_values() -> None:
    assert objective_values(problem(), valid()) == (0, 285)
    late = replace(valid(), Assignment("J1b", "B", 40, 60))
    assert objective_values(problem(), late)[0] == 2 * 10


def one(violations: list[str], fragment: str) -> None:
    assert len(violations) >= 1, violations
    assert any(fragment in v for v in violations), violations


def test_missing_and_duplicate_and_unknown_operations() -> None:
    one(check(problem(), valid()[1:]), "J1a of job J1 is not scheduled")
    one(check(problem(), [*valid(), valid()[0]]), "J1a is scheduled more than once")
    one(check(problem(), [*valid(), Assignment("X", "A", 0, 1)]), "X is not in the problem")


def test_ineligible_resource_and_wrong_duration() -> None:
    one(check(problem(), replace(valid(), Assignment("J1a", "B", 5, 15))), "not eligible")
    one(check(problem(), replace(valid(), Assignment("J1a", "A", 5, 14))), "lasts 9 minutes")


def test_release_and_origin() -> None:
    one(check(problem(), replace(valid(), Assignment("J1a", "A", 4, 14))), "release 5")
    one(check(problem(), replace(valid(), Assignment("J3a", "B", -1, 19))), "origin")


def test_sequence_and_predecessor_jobs() -> None:
    one(
        check(problem(), replace(valid(), Assignment("J1b", "B", 14, 34))),
        "J1b starts at 14, before operation J1a ends at 15",
    )
    one(
        check(problem(), replace(valid(), Assignment("J2a", "C", 30, 280))),
        "before job J1 it waits for ends at 35",
    )


def test_capacity() -> None:
    # B has capacity 2: J1b and J3a overlap, fine; a third is too many.
    crowded = [
        *valid(),
    ]
    p = problem()
    p = Problem(p.resources, (*p.jobs, job("J5", op("J5a", ("B", 10)))), p.pinned)
    one(
        check(p, [*crowded, Assignment("J5a", "B", 25, 35)]),
        "resource B runs 3 operations at minute 25",
    )
    assert check(p, [*crowded, Assignment("J5a", "B", 35, 45)]) == []
    one(
        check(problem(), replace(valid(), Assignment("J1a", "A", 36, 46))),
        "resource A runs 2 operations at minute 40",
    )


def test_calendar_not_interruptible() -> None:
    one(
        check(problem(), replace(valid(), Assignment("J1b", "C", 80, 110))),
        "not inside one working stretch of C",
    )
    one(
        check(problem(), replace(valid(), Assignment("J1b", "C", 150, 180))),
        "not inside one working stretch of C",
    )
    # Start in a gap, pushed to 200 would be fine:
    ok = replace(valid(), Assignment("J1b", "C", 200, 230))
    ok = replace(ok, Assignment("J2a", "C", 35, 285))
    one(check(problem(), ok), "resource C runs 2")


def test_calendar_interruptible() -> None:
    one(
        check(problem(), replace(valid(), Assignment("J2a", "C", 35, 185))),
        "gets 65 working minutes",
    )
    one(
        check(problem(), replace(valid(), Assignment("J2a", "C", 100, 286))),
        "starts at 100, outside the working time",
    )
    p = problem()
    longer = replace(valid(), Assignment("J2a", "C", 35, 301))
    one(check(p, longer), "ends at 301, not at the end of a working minute")


def test_pinned_work_must_not_move() -> None:
    one(
        check(problem(), replace(valid(), Assignment("J4a", "A", 50, 55))),
        "pinned operation J4a moved",
    )
