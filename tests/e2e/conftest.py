"""The end-to-end tests: the portal in a real Chromium, driven by Playwright's sync API,
against `live_server` (uvicorn over real HTTP, on SQLite and on PostgreSQL).

The browser is the system's Chromium, never a downloaded one: TAKTLINE_CHROMIUM names the
executable (default /usr/bin/chromium; .ci/run installs Debian's `chromium` package there).
When it is missing the tests are skipped with the reason, unless TAKTLINE_REQUIRE_BROWSER=1
(CI), which makes that a failure.

    def test_something(browser_tab, demo_plant):
        tab = browser_tab("name-of-the-test")
        tab.sign_in(demo_plant.email("planner"))
        tab.goto("/")
        tab.shot("dashboard")             # test-output/screenshots/name-...-1280x800.png
        tab.assert_console_clean()

Every tab records the errors of its browser console and of its scripts; a test that ends
with errors it did not check fails.
"""

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from taktline import demo
from taktline.db import transaction, utcnow
from taktline.orders.models import ProductionOrder, WorkOrder
from taktline.permissions import Role
from taktline.portal.security import set_password
from taktline.resources.models import Resource
from tests.helpers.tenants import Tenant

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Response, ViewportSize

CHROMIUM_VARIABLE = "TAKTLINE_CHROMIUM"
REQUIRE_VARIABLE = "TAKTLINE_REQUIRE_BROWSER"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# The machine may have no network: without the background-networking flags Chromium keeps
# trying to reach Google's services and floods the log with refused connections.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP: "ViewportSize" = {"width": 1280, "height": 800}
TABLET: "ViewportSize" = {"width": 768, "height": 1024}
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
PASSWORD = "correct horse battery staple"
# The one console error a page may show: the line Chromium logs for a 4xx answer (a page that
# refuses a form on purpose, or a refused fetch). Anything else is a failure.
REFUSED_RESOURCE = re.compile(
    r"^Failed to load resource: the server responded with a status of 4\d\d"
)
TIMEOUT_MS = 15_000


def chromium_executable() -> str | None:
    """The Chromium to drive (TAKTLINE_CHROMIUM, default /usr/bin/chromium), if it exists."""
    wanted = os.environ.get(CHROMIUM_VARIABLE) or DEFAULT_CHROMIUM
    found = shutil.which(wanted)
    return found


def browser_required() -> bool:
    return os.environ.get(REQUIRE_VARIABLE, "") not in ("", "0")


def _no_browser(reason: str) -> None:
    if browser_required():
        pytest.fail(f"{REQUIRE_VARIABLE}=1, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> "Iterator[Browser]":
    """The system's Chromium, headless, for the tests of one module."""
    executable = chromium_executable()
    if executable is None:
        wanted = os.environ.get(CHROMIUM_VARIABLE) or DEFAULT_CHROMIUM
        _no_browser(
            f"no Chromium executable at {wanted} (install Debian's chromium package, or set "
            f"{CHROMIUM_VARIABLE} to a Chromium executable)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("Playwright for Python is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


# --- a tab of the browser, signed in through the real sign-in form -------------------------


@dataclass
class Tab:
    """One browser tab (in its own context: its own cookies) on the live server."""

    page: "Page"
    base_url: str
    prefix: str
    console: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)

    @property
    def path(self) -> str:
        url = str(self.page.url)
        return url[len(self.base_url) :] if url.startswith(self.base_url) else url

    @property
    def viewport(self) -> str:
        size = self.page.viewport_size
        assert size is not None
        return f"{size['width']}x{size['height']}"

    def goto(self, path: str, status: int = 200) -> "Response":
        response = self.page.goto(self.base_url + path)
        assert response is not None, path
        assert response.status == status, f"GET {path}: {response.status}, not {status}"
        return response

    def shot(self, name: str) -> Path:
        """A full-page screenshot: test-output/screenshots/<prefix>-<name>-<width>x<height>.png"""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{self.prefix}-{name}-{self.viewport}.png"
        self.page.screenshot(path=str(target), full_page=True)
        self.shots.append(target)
        return target

    def flash(self) -> str:
        """The one-time message the page shows after an action."""
        return str(self.page.locator("p.flash").inner_text()).strip()

    def sign_in(self, email: str, password: str = PASSWORD, shot: str | None = None) -> None:
        """Signs in through the sign-in page, as a person would: type, then press the button."""
        self.goto("/login")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        if shot:
            self.shot(shot)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Sign in").click()
        assert self.path == "/", f"sign-in as {email} ended on {self.path}"
        who = self.page.locator("header.top .who").text_content() or ""
        assert email in who, who

    def sign_out(self) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Sign out").click()
        assert self.path.startswith("/login"), self.path
        assert self.flash() == "You are signed out."
        assert self.page.locator("header.top").count() == 0

    def nav(self, name: str) -> None:
        """Follows a link of the main navigation."""
        with self.page.expect_navigation():
            self.page.get_by_role("navigation", name="Main").get_by_role(
                "link", name=name, exact=True
            ).click()

    def assert_console_clean(self, allow_refused: bool = False) -> None:
        """No console or script errors since the last check; with `allow_refused`, except
        Chromium's "Failed to load resource ... 4xx" lines of answers refused on purpose."""
        errors = [e for e in self.console if not (allow_refused and REFUSED_RESOURCE.match(e))]
        self.console.clear()
        assert errors == [], errors


@pytest.fixture
def browser_tab(
    browser: "Browser", live_server: str, database_url: str
) -> Iterator[Callable[..., Tab]]:
    """Opens tabs on the live server: `browser_tab("name")` (1280x800) or with
    `viewport=TABLET`. Screenshots are named after `name` and the database."""
    contexts: list[Any] = []
    tabs: list[Tab] = []
    kind = database_url.split(":", 1)[0]

    def open_tab(name: str, viewport: "ViewportSize | None" = None) -> Tab:
        context = browser.new_context(viewport=viewport or LAPTOP, locale="en-US")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        tab = Tab(page, live_server, f"{name}-{kind}")

        def on_console(message: Any) -> None:
            if message.type == "error":
                tab.console.append(message.text)

        def on_dialog(dialog: Any) -> None:
            tab.dialogs.append(dialog.message)
            dialog.accept()

        page.on("console", on_console)
        page.on("pageerror", lambda error: tab.console.append(f"script error: {error}"))
        page.on("dialog", on_dialog)
        tabs.append(tab)
        return tab

    try:
        yield open_tab
        for tab in tabs:
            assert tab.console == [], f"console errors not checked: {tab.console}"
    finally:
        for context in contexts:
            context.close()


# --- the demo plant of a fresh tenant ---------------------------------------------------------


@dataclass(frozen=True)
class DemoPlant:
    """The Sunshine Beverages demo loaded into a fresh tenant, with portal passwords."""

    app: FastAPI
    tenant: Tenant
    resources: dict[str, uuid.UUID]
    """Resource ids by code: CP1, BL1, LB1, CS1, CREW-A."""
    order_id: uuid.UUID
    """The demo's production order HJ-PO-1001, generated from its BOMs: WO-000001 and
    WO-000002 bottle 5,000 each, fed by the juice batches WO-000003 and WO-000004; SCHEDULED
    from 06:00 on the plant's next working day (`demo.first_day`)."""
    zone: ZoneInfo

    def email(self, role: Role | str) -> str:
        return self.tenant.user(role).email

    def today(self) -> date:
        """Today on the plant's clock."""
        return utcnow().astimezone(self.zone).date()

    def at(self, days: int, hour: int) -> datetime:
        """A time on the plant's clock, `days` after today."""
        return datetime.combine(self.today() + timedelta(days=days), time(hour), tzinfo=self.zone)

    def work_orders(self, order_id: uuid.UUID) -> list[WorkOrder]:
        """The order's work orders by number, read afresh (with their line items)."""
        with self.app.state.session_factory() as session:
            found = session.scalars(
                select(WorkOrder)
                .where(WorkOrder.production_order_id == order_id)
                .order_by(WorkOrder.number)
            ).all()
            for wo in found:
                _ = list(wo.line_items)
            session.expunge_all()
            return list(found)

    def order(self, order_id: uuid.UUID) -> ProductionOrder:
        with self.app.state.session_factory() as session:
            po: ProductionOrder | None = session.get(ProductionOrder, order_id)
            assert po is not None
            session.expunge(po)
            return po


@pytest.fixture
def demo_plant(app: FastAPI, tenant: Tenant) -> DemoPlant:
    """`tenant` with the demo (taktline.demo.load into its organisation) and a password for
    each of its users (taktline.portal.security.set_password)."""
    factory = app.state.session_factory
    with factory() as session:
        with transaction(session):
            demo.load(session, tenant.name)
        for user in tenant.users.values():
            set_password(session, user.email, PASSWORD)
        codes = dict(
            session.execute(
                select(Resource.code, Resource.id).where(Resource.org_id == tenant.org_id)
            ).all()
        )
        order_id = session.scalar(
            select(ProductionOrder.id).where(
                ProductionOrder.org_id == tenant.org_id,
                ProductionOrder.reference == demo.ORDER_REFERENCE,
            )
        )
    assert order_id is not None
    return DemoPlant(app, tenant, codes, order_id, ZoneInfo(demo.PLANT_ZONE))


def quantity_text(value: Decimal) -> str:
    """A quantity as the portal shows it: 1,000."""
    return f"{value:,f}".rstrip("0").rstrip(".") if "." in f"{value:f}" else f"{value:,}"
