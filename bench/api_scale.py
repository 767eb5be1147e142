"""How the production core holds up at the size of a large plant.

Seeds one organisation with N work orders (3 line items each) through the bulk path of
production order creation, then times, over real HTTP handling in process (TestClient):
the bulk create, every list filter of /work-orders at that size, and single actions.

    .venv/bin/python bench/api_scale.py                      # SQLite, 20,000 work orders
    .venv/bin/python bench/api_scale.py --database-url postgresql://postgres@127.0.0.1:5432/test

With a PostgreSQL URL it creates a scratch database next to the one named and drops it after.
Prints one line per measurement and a JSON summary at the end (also written with --json).
"""

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from taktline import migrate
from taktline.app import create_app
from taktline.auth import service as auth
from taktline.config import Settings
from taktline.permissions import Role


@contextmanager
def scratch_database(url: str | None) -> Iterator[str]:
    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    base = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"taktline_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE "{name}"'))
        admin.dispose()


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and worst of `repeat` runs, in milliseconds."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return statistics.median(runs), max(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--work-orders", type=int, default=20_000)
    parser.add_argument("--per-order", type=int, default=250, help="work orders per request")
    parser.add_argument("--resources", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results: dict[str, Any] = {"work_orders": args.work_orders}

    with scratch_database(args.database_url) as url:
        migrate.upgrade(url)
        app = create_app(Settings(database_url=url))
        with app.state.session_factory() as session:
            org = auth.get_or_create_org(session, "Bench Co-Packing")
            user = auth.get_or_create_user(session, org, "planner@bench.example", Role.PLANNER)
            token = auth.create_token(session, user)
        client = TestClient(app)
        h = {"Authorization": f"Bearer {token}"}

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            r = client.post(path, json=body, headers=h)
            assert r.status_code in (200, 201), r.text
            return r.json()  # type: ignore[no-any-return]

        facility = post("/api/v1/facilities", {"name": "Plant", "timezone": "America/Chicago"})
        resources = [
            post(
                "/api/v1/resources",
                {
                    "code": f"R{i:03d}",
                    "name": f"Line {i}",
                    "kind": "LINE",
                    "facility_id": facility["id"],
                },
            )
            for i in range(args.resources)
        ]
        items = [
            post("/api/v1/items", {"sku": f"SKU-{i:04d}", "name": f"Product {i}", "unit": "ea"})
            for i in range(50)
        ]

        def work_order(n: int) -> dict[str, Any]:
            return {
                "item_id": items[n % len(items)]["id"],
                "quantity": 100 + n % 900,
                "priority": n % 100,
                "due_date": f"2027-{1 + n % 12:02d}-{1 + n % 28:02d}T17:00:00Z",
                "line_items": [
                    {
                        "operation": op,
                        "resource_id": resources[(n + k) % len(resources)]["id"],
                        "setup_minutes": 15,
                        "run_minutes_per_unit": "0.05",
                    }
                    for k, op in enumerate(("Bottling", "Labeling", "Casing"))
                ],
            }

        t0 = time.perf_counter()
        created = 0
        order_ids = []
        while created < args.work_orders:
            batch = min(args.per_order, args.work_orders - created)
            po = post(
                "/api/v1/production-orders",
                {
                    "items": [{"item_id": items[0]["id"], "quantity": 1000}],
                    "work_orders": [work_order(created + i) for i in range(batch)],
                },
            )
            order_ids.append(po["id"])
            created += batch
        seconds = time.perf_counter() - t0
        results["bulk_create_work_orders_per_s"] = round(created / seconds)
        print(
            f"bulk create: {created} work orders in {seconds:.1f} s "
            f"({created / seconds:,.0f}/s, {args.per_order} per request)"
        )

        # Schedule a share of the orders so that state and window filters have work to find.
        t0 = time.perf_counter()
        for po_id in order_ids[: max(1, len(order_ids) // 4)]:
            post(f"/api/v1/production-orders/{po_id}/schedule", {"start": "2027-01-04T12:00:00Z"})
        seconds = time.perf_counter() - t0
        scheduled = min(created, max(1, len(order_ids) // 4) * args.per_order)
        results["schedule_work_orders_per_s"] = round(scheduled / seconds)
        print(f"schedule: {scheduled} work orders laid out and booked in {seconds:.1f} s")

        wo = client.get("/api/v1/work-orders?state=SCHEDULED&limit=1", headers=h).json()["items"][0]
        queries = {
            "list first page (50)": "/api/v1/work-orders",
            "list page of 500": "/api/v1/work-orders?limit=500",
            "state=SCHEDULED": "/api/v1/work-orders?state=SCHEDULED",
            "state=DRAFT&state=SCHEDULED": "/api/v1/work-orders?state=DRAFT&state=SCHEDULED",
            "production_order_id": f"/api/v1/work-orders?production_order_id={order_ids[-1]}",
            "resource_id": f"/api/v1/work-orders?resource_id={resources[7]['id']}",
            "item_id": f"/api/v1/work-orders?item_id={items[3]['id']}",
            "planned window": "/api/v1/work-orders?planned_from=2027-01-05T00:00:00Z"
            "&planned_to=2027-01-06T00:00:00Z",
            "due_before": "/api/v1/work-orders?due_before=2027-02-01T00:00:00Z",
            "q=number": f"/api/v1/work-orders?q={wo['number']}",
            "q=item text": "/api/v1/work-orders?q=product%2042",
            "production orders": "/api/v1/production-orders?limit=20",
            "one work order": f"/api/v1/work-orders/{wo['id']}",
        }
        results["lists_ms"] = {}
        for name, path in queries.items():
            assert client.get(path, headers=h).status_code == 200
            median, worst = timed(partial(client.get, path, headers=h), args.repeat)
            results["lists_ms"][name] = round(median, 1)
            print(f"GET {name:<28} median {median:7.1f} ms   worst {worst:7.1f} ms")

        def start_and_report() -> None:
            r = client.get("/api/v1/work-orders?state=SCHEDULED&limit=1", headers=h)
            target = r.json()["items"][0]
            post(f"/api/v1/work-orders/{target['id']}/start", {})
            post(
                f"/api/v1/work-orders/{target['id']}/line-items/"
                f"{target['line_items'][0]['id']}/report",
                {"quantity_completed": 10},
            )

        median, worst = timed(start_and_report, args.repeat)
        results["find_start_report_ms"] = round(median, 1)
        print(f"find + start + report           median {median:7.1f} ms   worst {worst:7.1f} ms")
        app.state.engine.dispose()

    print(json.dumps(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
