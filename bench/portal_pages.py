"""How fast every main portal page answers with the demo data on a fresh SQLite database.

Migrates a new SQLite database in a temporary folder, loads the Sunshine Beverages demo (as
`taktline up` does), signs the demo planner in through the sign-in form, then loads each page
through the whole application in process (TestClient: routing, session and CSRF checks,
queries, templates; no network): one warm-up load, then the median of --runs loads.

    .venv/bin/python bench/portal_pages.py            # median of 20 per page
    .venv/bin/python bench/portal_pages.py --runs 50

The issue's budget is 200 ms a page; the exit code is 1 when a page is over it.
"""

import argparse
import re
import secrets
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select

from taktline import demo, migrate
from taktline.app import create_app
from taktline.config import Settings
from taktline.db import transaction, utcnow
from taktline.orders.models import ProductionOrder, WorkOrder
from taktline.portal.security import set_password
from taktline.resources.models import Resource

BUDGET_MS = 200.0
PLANNER = "planner@sunshine.example"


def demo_pages(client: TestClient) -> list[tuple[str, str]]:
    """(name, path) of every main page, on the demo's records."""
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        order_id = session.scalar(
            select(ProductionOrder.id).where(ProductionOrder.reference == demo.ORDER_REFERENCE)
        )
        work_order_id = session.scalar(select(WorkOrder.id).order_by(WorkOrder.number).limit(1))
        bottling = session.scalar(select(Resource.id).where(Resource.code == "BL1"))
    tomorrow = (utcnow().astimezone(ZoneInfo(demo.PLANT_ZONE)) + timedelta(days=1)).date()
    return [
        ("sign-in", "/login"),
        ("dashboard", "/"),
        ("production orders", "/production-orders"),
        ("production order", f"/production-orders/{order_id}"),
        ("new production order", "/production-orders/new"),
        ("work orders", "/work-orders"),
        ("work order", f"/work-orders/{work_order_id}"),
        ("new work order", "/work-orders/new"),
        ("resources", "/resources"),
        ("resource", f"/resources/{bottling}"),
        ("board, day", f"/board?zoom=day&from={tomorrow.isoformat()}"),
        ("board, week", f"/board?zoom=week&from={tomorrow.isoformat()}"),
        ("shop floor", "/floor"),
        ("shop floor of a resource", f"/floor/{bottling}"),
        ("its refresh stamp", f"/floor/{bottling}/stamp"),
    ]


def sign_in(client: TestClient, email: str, password: str) -> None:
    form = client.get("/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert match, "no CSRF field on the sign-in page"
    answer = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": match.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20, help="timed loads per page")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        migrate.upgrade(url)
        app = create_app(Settings(database_url=url))
        password = secrets.token_urlsafe(12)
        with app.state.session_factory() as session:
            with transaction(session):
                demo.load(session)
            set_password(session, PLANNER, password)
        over = []
        with TestClient(app) as client:
            sign_in(client, PLANNER, password)
            pages = demo_pages(client)
            print(f"{'page':<28} {'median ms':>9} {'min':>7} {'max':>7}   ({args.runs} loads each)")
            for name, path in pages:
                warm_up = client.get(path, follow_redirects=False)  # and signed in: no redirect
                assert warm_up.status_code == 200, (path, warm_up.status_code)
                times = []
                for _ in range(args.runs):
                    started = time.perf_counter()
                    status = client.get(path, follow_redirects=False).status_code
                    times.append((time.perf_counter() - started) * 1000)
                    assert status == 200, (path, status)
                median = statistics.median(times)
                print(f"{name:<28} {median:>9.1f} {min(times):>7.1f} {max(times):>7.1f}")
                if median > BUDGET_MS:
                    over.append(name)
        app.state.engine.dispose()
    if over:
        print(f"over the {BUDGET_MS:.0f} ms budget: {', '.join(over)}")
        return 1
    print(f"every page under the {BUDGET_MS:.0f} ms budget")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
