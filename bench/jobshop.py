"""The product's scheduler on the classic job-shop benchmarks (JSPLIB).

Each instance becomes the product's own `Problem` (machines as resources of capacity 1,
jobs as work orders, each (machine, duration) pair as an operation in sequence) and is
solved by `taktline.solver.solve`, the same code path the portal uses, with the makespan
objective. Every schedule is checked with the schedule checker before it is reported.

    python bench/jobshop.py --set la --time-limit 10 --json bench/results/la.json
    python bench/jobshop.py --instances ft06,ft10 --time-limit 10
    python bench/jobshop.py path/to/instance --time-limit 5

gap_percent compares the makespan with the optimum when known, otherwise with the best known
lower bound (the larger of the literature's and the solver's). lower_bound and upper_bound
are the solver's own: its proven bound and the makespan it found.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taktline.solver import Job, Mode, Objective, Operation, Problem, Resource, solve
from taktline.solver.checker import check_proposal

LIST_PARAMETERS = {"subsolvers", "extra_subsolvers", "ignore_subsolvers", "filter_subsolvers"}
DEFAULT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "jsplib"


@dataclass
class Instance:
    name: str
    jobs: list[list[tuple[int, int]]]
    machines: int
    optimum: int | None
    lower: int | None
    upper: int | None


def parse(text: str) -> tuple[list[list[tuple[int, int]]], int]:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    n_jobs, n_machines = map(int, lines[0].split())
    jobs = []
    for line in lines[1 : 1 + n_jobs]:
        v = list(map(int, line.split()))
        jobs.append([(v[k], v[k + 1]) for k in range(0, len(v), 2)])
    return jobs, n_machines


def to_problem(instance: Instance) -> Problem:
    resources = tuple(Resource(f"m{m}") for m in range(instance.machines))
    jobs = tuple(
        Job(
            id=f"j{j}",
            operations=tuple(
                Operation(f"j{j}o{k}", (Mode(f"m{machine}", duration),))
                for k, (machine, duration) in enumerate(ops)
            ),
        )
        for j, ops in enumerate(instance.jobs)
    )
    return Problem(resources, jobs, objective=Objective.MAKESPAN)


def _natural(name: str) -> tuple[str, int]:
    m = re.match(r"([a-z]+)(\d+)$", name)
    return (m.group(1), int(m.group(2))) if m else (name, 0)


def load_instances(args: argparse.Namespace) -> list[Instance]:
    directory = Path(args.jsplib_dir)
    meta = {e["name"]: e for e in json.loads((directory / "instances.json").read_text())}
    names: list[str] = []
    if args.set:
        names += sorted((n for n in meta if re.fullmatch(rf"{args.set}\d+", n)), key=_natural)
    if args.instances:
        names += [n.strip() for n in args.instances.split(",") if n.strip()]
    out = []
    for name in names:
        if name not in meta:
            sys.exit(f"unknown instance {name!r} (not in {directory / 'instances.json'})")
        e = meta[name]
        jobs, machines = parse((directory / e.get("path", f"instances/{name}")).read_text())
        bounds = e.get("bounds") or {}
        out.append(
            Instance(
                name, jobs, machines, e.get("optimum"), bounds.get("lower"), bounds.get("upper")
            )
        )
    for path in args.paths:
        jobs, machines = parse(Path(path).read_text())
        out.append(Instance(Path(path).name, jobs, machines, None, None, None))
    if not out:
        sys.exit("no instances: give --set, --instances or instance files")
    return out


def run_one(
    instance: Instance,
    time_limit: float,
    seed: int,
    workers: int | None,
    parameters: dict[str, object] | None = None,
) -> dict[str, Any]:
    problem = to_problem(instance)
    began = time.perf_counter()
    proposal = solve(
        problem,
        time_limit_s=time_limit,
        seed=seed,
        objective=Objective.MAKESPAN,
        workers=workers,
        cpsat_parameters=parameters,
    )
    seconds = time.perf_counter() - began
    violations = check_proposal(problem, proposal)
    if violations:
        raise SystemExit(f"{instance.name}: invalid schedule: " + "; ".join(violations[:5]))
    reference = instance.optimum or max(instance.lower or 0, proposal.bound) or None
    gap = 100.0 * (proposal.makespan - reference) / reference if reference else None
    schedule = []
    for a in proposal.assignments:
        j, k = (int(x) for x in re.findall(r"\d+", a.operation))
        schedule.append(
            {
                "job": j,
                "operation": k,
                "machine": int(a.resource[1:]),
                "start": a.start,
                "end": a.end,
            }
        )
    schedule.sort(key=lambda row: (row["job"], row["operation"]))
    return {
        "instance": instance.name,
        "jobs": len(instance.jobs),
        "machines": instance.machines,
        "makespan": proposal.makespan,
        "optimum": instance.optimum,
        "known_bounds": None
        if instance.optimum or instance.lower is None
        else {"lower": instance.lower, "upper": instance.upper},
        "lower_bound": proposal.bound,
        "upper_bound": proposal.makespan,
        "gap_percent": None if gap is None else round(gap, 3),
        "seconds": round(seconds, 2),
        "optimal": proposal.optimal,
        "method": str(proposal.method),
        "status": proposal.status,
        "heuristic_makespan": proposal.heuristic_value,
        "schedule": schedule,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    ap.add_argument("paths", nargs="*", help="instance files (JSPLIB format)")
    ap.add_argument("--set", help="a named set: la, ta, ft, abz, orb, swv, yn")
    ap.add_argument("--instances", help="comma-separated names, e.g. ft06,ft10")
    ap.add_argument("--jsplib-dir", default=str(DEFAULT_DIR))
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None, help="CP-SAT workers (default: auto)")
    ap.add_argument(
        "--cpsat-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra CP-SAT parameter, e.g. num_full_subsolvers=2 (repeatable)",
    )
    ap.add_argument("--json", dest="json_out", help="write the results as JSON here")
    args = ap.parse_args(argv)

    parameters: dict[str, object] = {}
    for item in args.cpsat_param:
        name, _, value = item.partition("=")
        parameters[name] = value.split(",") if name in LIST_PARAMETERS else value
    results = []
    print(
        f"{'instance':<10}{'size':>7}{'makespan':>10}{'optimum/bounds':>17}{'solver LB':>11}"
        f"{'gap %':>8}{'seconds':>9}  proven"
    )
    for instance in load_instances(args):
        row = run_one(instance, args.time_limit, args.seed, args.workers, parameters)
        results.append(row)
        if instance.optimum:
            ref = str(instance.optimum)
        elif instance.lower is not None:
            ref = f"{instance.lower}-{instance.upper}"
        else:
            ref = "?"
        gap = "-" if row["gap_percent"] is None else f"{row['gap_percent']:.2f}"
        print(
            f"{row['instance']:<10}{row['jobs']:>3}x{row['machines']:<3}{row['makespan']:>10}"
            f"{ref:>17}{row['lower_bound']:>11}{gap:>8}{row['seconds']:>9.1f}  "
            f"{'yes' if row['optimal'] else 'no'}",
            flush=True,
        )
    gaps = [r["gap_percent"] for r in results if r["gap_percent"] is not None]
    matched = sum(1 for r in results if r["optimum"] and r["makespan"] == r["optimum"])
    with_opt = sum(1 for r in results if r["optimum"])
    print(
        f"summary: {len(results)} instances, average gap {sum(gaps) / max(len(gaps), 1):.3f}%, "
        f"max gap {max(gaps, default=0):.2f}%, optimum reached {matched}/{with_opt}, "
        f"proven optimal {sum(r['optimal'] for r in results)}, "
        f"total {sum(r['seconds'] for r in results):.0f} s at --time-limit {args.time_limit:g}"
    )
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
