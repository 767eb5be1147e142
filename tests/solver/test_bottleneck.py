"""Bottleneck analysis: loads, the bottleneck, and what holds late work orders up."""

import pytest

from taktline.solver import Assignment, Calendar, Problem, Resource, analyse, solve
from taktline.solver.bottleneck import holds_up, late_job, summarise, worst_wait
from tests.solver.helpers import assert_valid, job, op


def plant() -> Problem:
    # Bottling is the bottleneck: every order needs 60 min there, the labeler 10.
    return Problem(
        (
            Resource("Bottling"),
            Resource("Labeler"),
            Resource("Crew", capacity=2, calendar=Calendar(((0, 100),))),
        ),
        tuple(
            job(
                f"WO{k}",
                op(f"WO{k}-bottle", ("Bottling", 60)),
                op(f"WO{k}-label", ("Labeler", 10)),
                due=80,
                weight=k + 1,
            )
            for k in range(3)
        ),
    )


def test_loads_utilisation_and_bottleneck() -> None:
    problem = plant()
    proposal = solve(problem, time_limit_s=5, workers=2)
    assert_valid(problem, proposal)
    report = analyse(problem, proposal.assignments, start=0, end=200)
    loads = {load.resource: load for load in report.loads}
    assert loads["Bottling"].booked == 180
    assert loads["Bottling"].available == 200
    assert loads["Bottling"].utilisation == pytest.approx(0.9)
    assert loads["Labeler"].booked == 30
    # Crew works 100 minutes with capacity 2: 200 available, nothing booked.
    assert loads["Crew"].available == 200
    assert loads["Crew"].utilisation == 0
    assert report.bottlenecks == ("Bottling",)
    assert report.loads[0].resource == "Bottling"


def test_late_jobs_name_the_resource_and_the_work_in_the_way() -> None:
    problem = plant()
    # By hand: WO2 first (highest weight), then WO1, then WO0 at 120-180.
    schedule = [
        Assignment("WO2-bottle", "Bottling", 0, 60),
        Assignment("WO2-label", "Labeler", 60, 70),
        Assignment("WO1-bottle", "Bottling", 60, 120),
        Assignment("WO1-label", "Labeler", 120, 130),
        Assignment("WO0-bottle", "Bottling", 120, 180),
        Assignment("WO0-label", "Labeler", 180, 190),
    ]
    report = analyse(problem, schedule)
    assert report.end == 190
    late = {lj.job: lj for lj in report.late_jobs}
    assert set(late) == {"WO0", "WO1"}
    assert late["WO0"].lateness == 110
    assert late["WO0"].weighted_lateness == 110
    assert late["WO0"].resource == "Bottling"
    assert late["WO0"].operation == "WO0-bottle"
    assert late["WO0"].waited == 120
    assert late["WO0"].held_up_by == ("WO2-bottle", "WO1-bottle")
    assert late["WO1"].held_up_by == ("WO2-bottle",)
    assert "waited 60 minutes for Bottling" in late["WO1"].reason
    # Most weighted lateness first: WO1 is 50 late x 2 = 100, WO0 110 x 1.
    assert [lj.job for lj in report.late_jobs] == ["WO0", "WO1"]


def test_late_by_its_own_length() -> None:
    problem = Problem((Resource("R"),), (job("J", op("o", ("R", 50)), due=30),))
    report = analyse(problem, [Assignment("o", "R", 0, 50)])
    (late,) = report.late_jobs
    assert late.resource is None
    assert late.held_up_by == ()
    assert "own work" in late.reason


def test_interruptible_work_counts_working_minutes_only() -> None:
    cal = Calendar(((0, 10), (20, 40)))
    problem = Problem(
        (Resource("R", calendar=cal),), (job("J", op("o", ("R", 15), interruptible=True)),)
    )
    report = analyse(problem, [Assignment("o", "R", 0, 25)], start=0, end=40)
    (load,) = report.loads
    assert (load.available, load.booked) == (30, 15)
    assert report.bottlenecks == ("R",)


# --- the parts, for a caller that reads only what it shows -----------------------------------


def test_summarise_orders_the_loads_and_names_the_bottlenecks_within_the_tolerance() -> None:
    loads, bottlenecks = summarise(
        [("A", 1000, 900), ("B", 1000, 895), ("C", 0, 0), ("D", 0, 5), ("E", 200, 0)],
        tolerance=0.01,
    )

    assert [load.resource for load in loads] == ["D", "A", "B", "C", "E"]
    assert loads[0].utilisation == float("inf")
    # Booked outside working time is the most loaded: nothing else is within its tolerance.
    assert bottlenecks == ("D",)
    _, without_d = summarise([("A", 1000, 900), ("B", 1000, 895), ("E", 200, 0)], tolerance=0.01)
    assert without_d == ("A", "B")


def test_the_parts_explain_each_late_job_as_analyse_does() -> None:
    problem = plant()
    schedule = [
        Assignment("WO2-bottle", "Bottling", 0, 60),
        Assignment("WO2-label", "Labeler", 60, 70),
        Assignment("WO1-bottle", "Bottling", 60, 120),
        Assignment("WO1-label", "Labeler", 120, 130),
        Assignment("WO0-bottle", "Bottling", 120, 180),
        Assignment("WO0-label", "Labeler", 180, 190),
    ]
    by_op = {a.operation: a for a in schedule}
    calendars = {r.id: r.calendar for r in problem.resources}
    finish_of = {j.id: by_op[j.operations[-1].id].end for j in problem.jobs}
    whole = {lj.job: lj for lj in analyse(problem, schedule).late_jobs}

    for j in problem.jobs:
        if finish_of[j.id] <= (j.due or 0):
            assert j.id not in whole
            continue
        wait, waited_for = worst_wait(j, by_op, calendars, finish_of)
        assert wait is not None
        holders = [
            a.operation
            for a in schedule
            if not a.operation.startswith(j.id) and a.resource == wait.resource
            if holds_up(wait, a)
        ]
        assert late_job(j, finish_of[j.id], wait, waited_for, holders) == whole[j.id]


def test_a_predecessor_that_ends_after_the_release_is_waited_for() -> None:
    first = job("A", op("a1", ("R", 30)))
    second = job("B", op("b1", ("S", 10)), due=20, predecessors=("A",))
    by_op = {"a1": Assignment("a1", "R", 0, 30), "b1": Assignment("b1", "S", 30, 40)}

    wait, waited_for = worst_wait(second, by_op, {}, {"A": 30})
    lj = late_job(second, 40, wait, waited_for, [])

    assert wait is None
    assert waited_for == ("A",)
    assert lj.reason == "waits for job(s) A"
    assert lj.lateness == 20
    assert worst_wait(first, by_op, {}, {})[0] is None
