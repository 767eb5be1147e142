"""Size benchmark of the scheduler on generated plants.

1. The dispatching heuristic alone on 20,000 operations over 100 resources (target: < 2 s).
2. CP-SAT improving the heuristic on 2,000 operations within a 30 s limit: the heuristic's
   objective against CP-SAT's, with CP-SAT's proven bound.

The plants have what real ones have: work orders of 2-6 line items, one or two eligible
resources per line item with their own durations, some resources of capacity 2, two shifts
a day (06:00-22:00) on two resources in three, interruptible line items, releases, due dates,
priorities, and work orders waiting for others. Every schedule is checked.

    python bench/scheduling_scale.py [--large 20000] [--medium 2000] [--time-limit 30]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from taktline.solver import (
    Objective,
    solve,
)
from taktline.solver.checker import check_proposal
from taktline.solver.generate import random_plant


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="size benchmark of the scheduler")
    ap.add_argument("--large", type=int, default=20_000, help="operations, heuristic only")
    ap.add_argument("--large-resources", type=int, default=100)
    ap.add_argument("--medium", type=int, default=2_000, help="operations, CP-SAT")
    ap.add_argument("--medium-resources", type=int, default=20)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args(argv)
    out: dict[str, object] = {}

    big = random_plant(args.large, args.large_resources, seed=1, due_days=30, calendar_days=2000)
    wall, cpu = time.perf_counter(), time.process_time()
    proposal = solve(big, time_limit_s=0.0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    violations = check_proposal(big, proposal)
    print(
        f"heuristic: {args.large} operations on {args.large_resources} resources in "
        f"{wall:.2f} s wall, {cpu:.2f} s CPU; weighted tardiness "
        f"{proposal.weighted_tardiness}, makespan {proposal.makespan} min; "
        f"{'valid' if not violations else violations[:3]}"
    )
    out["heuristic"] = {
        "operations": args.large,
        "resources": args.large_resources,
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "weighted_tardiness": proposal.weighted_tardiness,
        "makespan": proposal.makespan,
        "valid": not violations,
    }

    medium = random_plant(
        args.medium, args.medium_resources, seed=2, due_days=20, calendar_days=2000
    )
    for objective in (Objective.WEIGHTED_TARDINESS, Objective.MAKESPAN):
        began = time.perf_counter()
        result = solve(medium, time_limit_s=args.time_limit, seed=args.seed, objective=objective)
        seconds = time.perf_counter() - began
        violations = check_proposal(medium, result)
        print(
            f"{objective}: {args.medium} operations on {args.medium_resources} resources: "
            f"heuristic {result.heuristic_value}, {result.method} {result.value} "
            f"(bound {result.bound}, status {result.status}) in {seconds:.1f} s; "
            f"{'valid' if not violations else violations[:3]}"
        )
        out[f"cpsat_{objective}"] = {
            "operations": args.medium,
            "resources": args.medium_resources,
            "time_limit": args.time_limit,
            "heuristic_value": result.heuristic_value,
            "value": result.value,
            "bound": result.bound,
            "method": str(result.method),
            "status": result.status,
            "seconds": round(seconds, 2),
            "valid": not violations,
            "weighted_tardiness": result.weighted_tardiness,
            "makespan": result.makespan,
        }
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
