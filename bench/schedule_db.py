"""The scheduler through the database, as the API and `taktline schedule` run it.

Seeds one organisation through the services: a plant working Monday to Friday 06:00-22:00
(Chicago) with a maintenance stop, R resources (one in four with an alternative for its
line items), W work orders of 3 line items in production orders of 10 (each second work
order waiting for the one before it), a tenth of them already SCHEDULED by hand and a few
IN_PROCESS. Then times: building the problem (and counts its queries), the preview (solve
with the time limit), applying it, and the bottleneck analysis over the bookings. Every
proposal is checked with the core's checker.

    .venv/bin/python bench/schedule_db.py                  # SQLite, 600 work orders
    .venv/bin/python bench/schedule_db.py --work-orders 2000 --time-limit 30
    .venv/bin/python bench/schedule_db.py --database-url postgresql://postgres@127.0.0.1:5432/test
"""

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).parent))

from plant import scratch_database
from taktline import migrate
from taktline.auth import service as auth
from taktline.calendars import service as calendars
from taktline.calendars.models import ExceptionKind
from taktline.calendars.schemas import CalendarIn, ExceptionIn, ShiftIn, Weekday
from taktline.db import create_db_engine, create_session_factory
from taktline.items.models import ItemType
from taktline.items.schemas import ItemCreate
from taktline.items.service import ITEMS
from taktline.orders import actions, editing, production
from taktline.orders.schemas import (
    AlternativeIn,
    LineItemIn,
    LineItemWindow,
    ProductionOrderCreate,
    ProductionOrderItemIn,
    WorkOrderFields,
    WorkOrderUpdate,
)
from taktline.orgs.schemas import FacilityCreate
from taktline.orgs.service import FACILITIES
from taktline.permissions import Role
from taktline.resources.models import ResourceKind
from taktline.resources.schemas import ResourceCreate
from taktline.resources.service import RESOURCES
from taktline.scheduling import apply, bottlenecks, load, propose, snapshots
from taktline.scheduling.schemas import ApplyRequest, ScheduleRequest
from taktline.solver.checker import check_proposal

START = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)  # Monday 06:00 in Chicago


def seed(session: Any, n_work_orders: int, n_resources: int, rng: random.Random) -> Any:
    org = auth.get_or_create_org(session, "Bench Co-Pack")
    actor = auth.actor_for_user(
        auth.get_or_create_user(session, org, "planner@bench.example", Role.PLANNER)
    )
    facility = FACILITIES.create(
        session, actor, FacilityCreate(name="Bench Plant", timezone="America/Chicago")
    )
    shifts = [ShiftIn(weekday=d, start=clock(6), end=clock(22)) for d in list(Weekday)[:5]]
    calendars.set_weekly(session, actor, "facility", facility.id, CalendarIn(shifts=shifts), None)
    calendars.add_exception(
        session,
        actor,
        "facility",
        facility.id,
        ExceptionIn(
            kind=ExceptionKind.MAINTENANCE,
            starts_at=START + timedelta(days=2),
            ends_at=START + timedelta(days=2, hours=4),
        ),
    )
    rs = [
        RESOURCES.create(
            session,
            actor,
            ResourceCreate(
                code=f"R{r:03d}", name=f"Line {r}", kind=ResourceKind.LINE, facility_id=facility.id
            ),
        )
        for r in range(n_resources)
    ]
    item = ITEMS.create(
        session, actor, ItemCreate(sku="B-1", name="Bench", unit="ea", type=ItemType.FINISHED_GOOD)
    )
    horizon_days = max(5, n_work_orders * 3 * 45 // (n_resources * 16 * 60) * 2)
    for first in range(0, n_work_orders, 10):
        bodies = []
        for _ in range(min(10, n_work_orders - first)):
            lines = []
            for _ in range(3):
                r = rng.randrange(n_resources)
                alt = (
                    [
                        AlternativeIn(
                            resource_id=rs[(r + 1) % n_resources].id,
                            setup_minutes=Decimal(rng.randint(20, 60)),
                        )
                    ]
                    if r % 4 == 0
                    else []
                )
                lines.append(
                    LineItemIn(
                        operation=rng.choice(["Mixing", "Bottling", "Labeling", "Casing"]),
                        resource_id=rs[r].id,
                        setup_minutes=Decimal(rng.randint(15, 60)),
                        run_minutes_per_unit=Decimal("0.05"),
                        interruptible=rng.random() < 0.3,
                        alternatives=alt,
                    )
                )
            bodies.append(
                WorkOrderFields(
                    item_id=item.id,
                    quantity=Decimal(rng.randint(100, 600)),
                    priority=rng.randint(1, 100),
                    due_date=START + timedelta(days=rng.uniform(1, horizon_days)),
                    line_items=lines,
                )
            )
        po = production.create_production_order(
            session,
            actor,
            ProductionOrderCreate(
                items=[ProductionOrderItemIn(item_id=item.id, quantity=Decimal(1000))],
                work_orders=bodies,
            ),
        )
        wos = sorted(po_work_orders(session, po.id), key=lambda w: w.number)
        for a, b in zip(wos[::2], wos[1::2], strict=False):
            editing.update_work_order(
                session, actor, b.id, WorkOrderUpdate(depends_on=[a.id]), None
            )
    return actor


def po_work_orders(session: Any, po_id: Any) -> list[Any]:
    from sqlalchemy import select

    from taktline.orders.models import WorkOrder

    return list(session.scalars(select(WorkOrder).where(WorkOrder.production_order_id == po_id)))


def book_some_by_hand(session: Any, actor: Any, share: float, rng: random.Random) -> int:
    """Schedules a share of the work by hand, one after another on a far day, so that the
    scheduler has SCHEDULED work to move; starts a few."""
    from sqlalchemy import select

    from taktline.orders.lifecycle import State
    from taktline.orders.models import WorkOrder

    drafts = list(
        session.scalars(
            select(WorkOrder).where(WorkOrder.state == State.DRAFT).order_by(WorkOrder.number)
        )
    )
    session.rollback()
    chosen = [w for w in drafts if rng.random() < share and not w.pinned]
    at = START + timedelta(days=60)
    done = 0
    for n, wo in enumerate(chosen):
        windows = []
        for li in wo.line_items:
            windows.append(
                LineItemWindow(id=li.id, planned_start=at, planned_end=at + timedelta(minutes=30))
            )
            at += timedelta(minutes=30)
        try:
            actions.schedule(session, actor, wo.id, windows=windows)
        except Exception:  # waits for another one: skip it
            session.rollback()
            continue
        done += 1
        if n % 10 == 0:
            actions.start(session, actor, wo.id)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--work-orders", type=int, default=600)
    parser.add_argument("--resources", type=int, default=20)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rng = random.Random(7)
    results: dict[str, Any] = {
        "work_orders": args.work_orders,
        "line_items": 3 * args.work_orders,
        "resources": args.resources,
        "time_limit": args.time_limit,
    }
    with scratch_database(args.database_url) as url:
        results["database"] = url.split(":", 1)[0]
        migrate.upgrade(url)
        engine = create_db_engine(url)
        session = create_session_factory(engine)()
        t0 = time.perf_counter()
        actor = seed(session, args.work_orders, args.resources, rng)
        booked = book_some_by_hand(session, actor, 0.1, rng)
        results["seed_seconds"] = round(time.perf_counter() - t0, 1)
        results["booked_by_hand"] = booked
        print(
            f"seeded {args.work_orders} work orders ({booked} booked by hand) in "
            f"{results['seed_seconds']} s on {results['database']}"
        )

        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        t0 = time.perf_counter()
        plan = load.build_plan(session, actor.org_id, snapshots.Scope(), START)
        session.rollback()
        results["build_seconds"] = round(time.perf_counter() - t0, 3)
        results["build_queries"] = len(statements)
        print(
            f"build the problem: {results['build_seconds']} s, {len(statements)} queries, "
            f"{len(plan.movable)} movable and {len(plan.fixed)} fixed work orders"
        )

        body = ScheduleRequest(horizon_start=START, time_limit_seconds=args.time_limit)
        t0 = time.perf_counter()
        seen = propose.preview(session, actor, body)
        results["preview_seconds"] = round(time.perf_counter() - t0, 2)
        p = seen.proposal
        violations = check_proposal(seen.plan.problem, p)
        assert violations == [], violations[:5]
        results.update(
            method=str(p.method),
            status=p.status,
            value=p.value,
            bound=p.bound,
            gap_percent=round(100 * p.gap, 2),
            heuristic_value=p.heuristic_value,
            solve_seconds=round(p.seconds, 2),
            moves=seen.out.summary.to_reschedule,
            late=seen.out.summary.late,
        )
        print(
            f"preview: {results['preview_seconds']} s in all, solve {results['solve_seconds']} s "
            f"({p.method}, {p.status}); weighted tardiness {p.value} (heuristic "
            f"{p.heuristic_value}, bound {p.bound}, gap {results['gap_percent']} %); "
            f"{seen.out.summary.to_schedule} to schedule, {seen.out.summary.to_reschedule} "
            f"move, {seen.out.summary.late} late"
        )

        t0 = time.perf_counter()
        applied = apply.apply(session, actor, ApplyRequest(proposal=seen.out))
        results["apply_seconds"] = round(time.perf_counter() - t0, 2)
        print(
            f"apply: {results['apply_seconds']} s ({len(applied.out.scheduled)} scheduled, "
            f"{len(applied.out.rescheduled)} rescheduled) in one transaction"
        )

        t0 = time.perf_counter()
        report = bottlenecks.bottlenecks(session, actor, START, START + timedelta(days=14))
        results["bottlenecks_seconds"] = round(time.perf_counter() - t0, 2)
        print(
            f"bottlenecks over 14 days: {results['bottlenecks_seconds']} s; bottleneck "
            f"{[b.code for b in report.bottlenecks]}, {len(report.late_work_orders)} late"
        )
        session.close()
        engine.dispose()
    print(json.dumps(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
