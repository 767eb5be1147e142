"""Generated plants of the shape real ones have, for the solver's tests and benchmarks:
work orders of 2-6 line items, one or two eligible resources per line item with their own
durations, some resources of capacity 2, two shifts a day (06:00-22:00) on two resources in
three, interruptible line items, releases, due dates, priorities, and work orders waiting
for others. Deterministic for a seed."""

import random

from taktline.solver.calendar import Calendar
from taktline.solver.problem import Job, Mode, Objective, Operation, Problem, Resource

DAY = 1440


def random_plant(
    n_ops: int, n_resources: int, seed: int, *, due_days: int = 30, calendar_days: int = 400
) -> Problem:
    """`n_ops` line items over `n_resources` resources, due within `due_days` days, the
    shifts laid out over `calendar_days` days."""
    rng = random.Random(seed)
    shifts = Calendar(tuple((d * DAY + 360, d * DAY + 1320) for d in range(calendar_days)))
    resources = tuple(
        Resource(f"R{r}", capacity=rng.choice([1, 1, 1, 2]), calendar=shifts if r % 3 else None)
        for r in range(n_resources)
    )
    jobs: list[Job] = []
    k = 0
    while k < n_ops:
        size = min(rng.randint(2, 6), n_ops - k)
        ops = []
        for _ in range(size):
            eligible = rng.sample(range(n_resources), rng.choice([1, 1, 2]))
            ops.append(
                Operation(
                    f"o{k}",
                    tuple(Mode(f"R{r}", rng.randint(10, 240)) for r in eligible),
                    interruptible=rng.random() < 0.3,
                )
            )
            k += 1
        j = len(jobs)
        preds = (f"J{j - 1}",) if j and rng.random() < 0.1 else ()
        jobs.append(
            Job(
                f"J{j}",
                tuple(ops),
                release=rng.randint(0, 3 * DAY),
                due=rng.randint(DAY, due_days * DAY),
                weight=rng.randint(1, 5),
                predecessors=preds,
            )
        )
    return Problem(resources, tuple(jobs), objective=Objective.WEIGHTED_TARDINESS)
