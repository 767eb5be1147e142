"""Bottleneck analysis: loads, the bottleneck, and what holds late work orders up."""

import pytest

from taktline.solver import Assignment, Calendar, Problem, Resource, analyse, solve
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
