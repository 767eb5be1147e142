"""The README's screenshots: the main pages on the demo data, in the system's Chromium.

    .venv/bin/python -m tests.e2e.screenshots              # writes docs/screenshots/*.png
    .venv/bin/python -m tests.e2e.screenshots --out /tmp/shots

It loads the Sunshine Beverages demo into a fresh SQLite database, as `taktline up` does, and
has its operator make the juice batch that feeds the first bottling run (WO-000001) and start
that run (bottling done, labeling under way), so that the pages show work in every state.
Then it serves the portal on a free port, signs in as the demo planner through the sign-in
page and saves the dashboard, a production order, a work order, the schedule board and a
resource at 1280x800, and the shop floor as the operator at 768x1024 (a tablet). The browser
is TAKTLINE_CHROMIUM (default /usr/bin/chromium).
"""

import argparse
import secrets
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from taktline import demo, migrate
from taktline.app import create_app
from taktline.auth.models import User
from taktline.auth.service import actor_for_user
from taktline.config import Settings
from taktline.db import transaction
from taktline.orders import actions
from taktline.orders.models import ProductionOrder, WorkOrder
from taktline.orders.reading import dependencies_of
from taktline.orders.schemas import CompleteRequest, ReportRequest
from taktline.portal.security import set_password
from taktline.resources.models import Resource
from tests.e2e.conftest import LAPTOP, LAUNCH_ARGS, TABLET, chromium_executable
from tests.helpers.server import serve_in_thread

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ViewportSize

ROOT = Path(__file__).resolve().parents[2]
PLANNER = "planner@sunshine.example"
OPERATOR = "operator@sunshine.example"
# The planner's pages at 1280x800, then the operator's shop floor at 768x1024.
SHOTS = ("dashboard", "production-order", "work-order", "board", "resource", "floor")


def prepare(database_url: str, password: str) -> dict[str, str]:
    """The demo with some work on the floor; the paths of the pages to show."""
    migrate.upgrade(database_url)
    app = create_app(Settings(database_url=database_url))
    factory = app.state.session_factory
    with factory() as session:
        with transaction(session):
            org = demo.load(session)
        for email in (PLANNER, OPERATOR):
            set_password(session, email, password)
        operator = session.scalar(select(User).where(User.email == OPERATOR))
        assert operator is not None
        actor = actor_for_user(operator)
        order = session.scalar(
            select(ProductionOrder).where(
                ProductionOrder.org_id == org.id,
                ProductionOrder.reference == demo.ORDER_REFERENCE,
            )
        )
        assert order is not None
        first = session.scalar(
            select(WorkOrder)
            .where(WorkOrder.production_order_id == order.id)
            .order_by(WorkOrder.number)
            .limit(1)
        )
        assert first is not None
        # The batch of juice it waits for, made first.
        (batch_id,) = dependencies_of(session, [first.id])[first.id]
        batch = session.get_one(WorkOrder, batch_id)
        actions.start(session, actor, batch.id)
        actions.report(
            session,
            actor,
            batch.id,
            batch.line_items[0].id,
            ReportRequest(quantity_completed=batch.quantity, done=True),
        )
        actions.complete(session, actor, batch.id, CompleteRequest())
        bottling, labeling = first.line_items[0].id, first.line_items[1].id
        actions.start(session, actor, first.id)
        actions.report(
            session,
            actor,
            first.id,
            bottling,
            ReportRequest(
                quantity_completed=Decimal(4_980), quantity_scrapped=Decimal(20), done=True
            ),
        )
        actions.report(
            session,
            actor,
            first.id,
            labeling,
            ReportRequest(quantity_completed=Decimal(2_400), quantity_scrapped=Decimal(6)),
        )
        codes = dict(
            session.execute(
                select(Resource.code, Resource.id).where(Resource.org_id == org.id)
            ).all()
        )
        order_id, work_order_id = order.id, first.id
    app.state.engine.dispose()
    tomorrow = demo.first_day()
    return {
        "dashboard": "/",
        "production-order": f"/production-orders/{order_id}",
        "work-order": f"/work-orders/{work_order_id}",
        "board": f"/board?zoom=day&from={tomorrow.isoformat()}",
        "resource": f"/resources/{codes['BL1']}",
        "floor": f"/floor/{codes['LB1']}",
    }


class Shooter:
    """A signed-in browser context that saves the visible part of pages."""

    def __init__(self, browser: "Browser", base_url: str, email: str, password: str) -> None:
        self.base_url = base_url
        self.context = browser.new_context(viewport=LAPTOP, device_scale_factor=1)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.goto(base_url + "/login")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Sign in").click()
        if not self.page.url.rstrip("/").endswith(base_url.split("//", 1)[1]):
            raise SystemExit(f"could not sign in as {email}: {self.page.url}")

    def save(self, path: str, target: Path, viewport: "ViewportSize") -> None:
        self.page.set_viewport_size(viewport)
        response = self.page.goto(self.base_url + path)
        if response is None or response.status != 200:
            raise SystemExit(f"{path}: {response.status if response else 'no answer'}")
        self.page.screenshot(path=str(target))
        if self.errors:
            raise SystemExit(f"{path}: console errors {self.errors}")

    def close(self) -> None:
        self.context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    executable = chromium_executable()
    if executable is None:
        print("no Chromium: install Debian's chromium or set TAKTLINE_CHROMIUM", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        pages = prepare(url, password)
        app = create_app(Settings(database_url=url))
        with serve_in_thread(app) as base_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
            try:
                planner = Shooter(browser, base_url, PLANNER, password)
                for name in SHOTS[:-1]:
                    planner.save(pages[name], args.out / f"{name}.png", LAPTOP)
                planner.close()
                operator = Shooter(browser, base_url, OPERATOR, password)
                operator.save(pages["floor"], args.out / "floor.png", TABLET)
                operator.close()
            finally:
                browser.close()
        app.state.engine.dispose()
    for name in SHOTS:
        png = args.out / f"{name}.png"
        print(f"{png}: {png.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
