"""Finite-capacity scheduling: the pure core (no web, no database).

    from taktline.solver import Problem, Resource, Job, Operation, Mode, solve, check

`solve` turns a `Problem` into a `Proposal` (a resource and a window for every operation,
with the objective, the bound, the gap and how it was found); `check` lists every rule a
schedule breaks; `analyse` reports loads, the bottleneck and why jobs are late.
"""

from taktline.solver.bottleneck import BottleneckReport, LateJob, ResourceLoad, analyse
from taktline.solver.calendar import Calendar, expand_weekly
from taktline.solver.checker import check, check_proposal, objective_values
from taktline.solver.problem import (
    Assignment,
    Infeasible,
    InvalidProblem,
    Job,
    Method,
    Mode,
    NoEligibleResource,
    Objective,
    Operation,
    OperationDoesNotFit,
    Pinned,
    Problem,
    Proposal,
    Resource,
    SchedulingError,
)
from taktline.solver.solve import solve

__all__ = [
    "Assignment",
    "BottleneckReport",
    "Calendar",
    "Infeasible",
    "InvalidProblem",
    "Job",
    "LateJob",
    "Method",
    "Mode",
    "NoEligibleResource",
    "Objective",
    "Operation",
    "OperationDoesNotFit",
    "Pinned",
    "Problem",
    "Proposal",
    "Resource",
    "ResourceLoad",
    "SchedulingError",
    "analyse",
    "check",
    "check_proposal",
    "expand_weekly",
    "objective_values",
    "solve",
]
