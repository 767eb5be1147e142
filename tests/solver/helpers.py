"""Builders shared by the scheduling tests."""

from __future__ import annotations

from taktline.solver import Job, Mode, Operation, Problem, Proposal, Resource
from taktline.solver.checker import check_proposal


def op(op_id: str, *modes: tuple[str, int], interruptible: bool = False) -> Operation:
    return Operation(op_id, tuple(Mode(r, d) for r, d in modes), interruptible)


def job(job_id: str, *ops: Operation, **kwargs: object) -> Job:
    return Job(job_id, tuple(ops), **kwargs)  # type: ignore[arg-type]


def jobshop(rows: list[list[tuple[int, int]]], machines: int) -> Problem:
    """A job shop: rows of (machine, duration), machines numbered from 0."""
    from taktline.solver import Objective

    return Problem(
        tuple(Resource(f"m{m}") for m in range(machines)),
        tuple(
            Job(
                f"j{j}",
                tuple(Operation(f"j{j}o{k}", (Mode(f"m{m}", d),)) for k, (m, d) in enumerate(row)),
            )
            for j, row in enumerate(rows)
        ),
        objective=Objective.MAKESPAN,
    )


def assert_valid(problem: Problem, proposal: Proposal) -> None:
    violations = check_proposal(problem, proposal)
    assert violations == [], violations


FT06 = [
    [(2, 1), (0, 3), (1, 6), (3, 7), (5, 3), (4, 6)],
    [(1, 8), (2, 5), (4, 10), (5, 10), (0, 10), (3, 4)],
    [(2, 5), (3, 4), (5, 8), (0, 9), (1, 1), (4, 7)],
    [(1, 5), (0, 5), (2, 5), (3, 3), (4, 8), (5, 9)],
    [(2, 9), (1, 3), (4, 5), (5, 4), (0, 3), (3, 1)],
    [(1, 3), (3, 3), (5, 9), (0, 10), (4, 4), (2, 1)],
]
