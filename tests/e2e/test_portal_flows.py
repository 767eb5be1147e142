"""The portal end to end, in the system's Chromium over real HTTP (see conftest.py).

- A planner plans a production order through the form, schedules it and finds it on the
  board; an operator makes it on the shop floor of a tablet; the order ends COMPLETED and the
  dashboard's counts move (SQLite and PostgreSQL).
- A viewer sees no action anywhere, and forged form posts are refused and change nothing
  (SQLite and PostgreSQL).
- Every main page at 1280x800 and 768x1024: a clean console, no sideways scroll, a keyboard
  path from the skip link through the main navigation to the first action, a label on every
  control (SQLite only: the pages' markup does not depend on the database).

Each test saves full-page screenshots under test-output/screenshots/.
"""

import re
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from taktline import demo
from taktline.inventory.models import Lot
from taktline.items.models import Item
from taktline.orders import actions, production
from taktline.orders.lifecycle import LineItemStatus, State
from taktline.orders.models import WorkOrder
from taktline.orders.schemas import (
    LineItemIn,
    ProductionOrderCreate,
    ProductionOrderItemIn,
    ReportRequest,
    WorkOrderFields,
)
from taktline.permissions import Role
from tests.e2e.conftest import LAPTOP, TABLET, DemoPlant, Tab
from tests.helpers.counts import db_counts

if TYPE_CHECKING:
    from playwright.sync_api import Locator, ViewportSize

# (operation, resource code, resource name, setup minutes, run minutes per unit)
OPERATIONS = [
    ("Bottling", "BL1", "Bottling Line 1", "30", "0.012"),
    ("Labeling", "LB1", "Labeler 1", "15", "0.01"),
    ("Casing", "CS1", "Case Packer 1", "10", "0.008"),
]
ITEM_SKU = "AJ-16OZ"
WORK_ORDER_QUANTITY = 1000
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

OpenTab = Callable[..., Tab]


def local_input(value: datetime) -> str:
    """The value of an <input type=datetime-local>."""
    return value.strftime("%Y-%m-%dT%H:%M")


def choose(select_box: "Locator", text: str) -> None:
    """Picks the option of a <select> whose text starts with `text`."""
    value = select_box.evaluate(
        "(s, t) => { const o = [...s.options].find(o => o.text.startsWith(t));"
        " return o ? o.value : null; }",
        text,
    )
    assert value, f"no option starting with {text!r}"
    select_box.select_option(value)


def dashboard_counts(tab: Tab) -> dict[str, int]:
    """The dashboard's work orders by state, read from its tiles ("3 SCHEDULED work orders")."""
    assert tab.path == "/", tab.path
    labels = tab.page.locator("a.state-tile").evaluate_all(
        "tiles => tiles.map(t => t.getAttribute('aria-label'))"
    )
    counts = {}
    for label in labels:
        match = re.fullmatch(r"(\d+) (\w+) work orders", label)
        assert match, label
        counts[match.group(2)] = int(match.group(1))
    assert {"DRAFT", "SCHEDULED", "IN_PROCESS", "COMPLETED"} <= counts.keys(), counts
    return counts


def click_and_wait(tab: Tab, target: "Locator") -> None:
    with tab.page.expect_navigation():
        target.click()


# --- (a) plan, schedule, make ----------------------------------------------------------------


def fill_order_form(tab: Tab, plant: DemoPlant, reference: str) -> None:
    """Fills the new production order form: one item, two work orders of three line items,
    the rows added with the form's own buttons."""
    page = tab.page

    def field(name: str) -> "Locator":
        return page.locator(f"form.order-form [name='{name}']")

    choose(field("owner_id"), "Healthy Juices")
    field("reference").fill(reference)
    field("due_date").fill(local_input(plant.at(7, 17)))
    field("priority").fill("60")
    field("notes").fill("Planned in the end-to-end test.")
    choose(field("items.0.item_id"), ITEM_SKU)
    field("items.0.quantity").fill(str(2 * WORK_ORDER_QUANTITY))

    for w in range(2):
        if w > 0:
            page.get_by_role("button", name="Add work order", exact=True).click()
            assert page.evaluate("document.activeElement.name") == f"work_orders.{w}.item_id"
        block = page.locator("fieldset.wo-block").nth(w)
        assert block.locator("legend").inner_text() == f"Work order {w + 1}"
        prefix = f"work_orders.{w}."
        choose(field(prefix + "item_id"), ITEM_SKU)
        field(prefix + "quantity").fill(str(WORK_ORDER_QUANTITY))
        for n, (operation, code, _name, setup, run) in enumerate(OPERATIONS):
            if n > 0:
                block.get_by_role("button", name="Add line item").click()
                focused = page.evaluate("document.activeElement.name")
                assert focused == f"{prefix}line_items.{n}.operation"
            line = f"{prefix}line_items.{n}."
            field(line + "operation").fill(operation)
            choose(field(line + "resource_id"), code)
            field(line + "setup_minutes").fill(setup)
            field(line + "run_minutes_per_unit").fill(run)
        assert block.locator("tbody tr").count() == len(OPERATIONS)


def floor_of(tab: Tab, resource_name: str) -> None:
    """The shop floor page of a resource, through the navigation and the resource's tile."""
    if tab.path != "/floor":
        tab.nav("Shop floor")
    click_and_wait(tab, tab.page.locator("a.floor-tile", has_text=resource_name))
    assert tab.page.locator("h1").inner_text().startswith(resource_name)


def job_card(tab: Tab, number: str, sequence: int, operation: str) -> "Locator":
    card = tab.page.locator(
        "li.job", has=tab.page.locator("h2", has_text=f"{number} · {sequence}. {operation}")
    )
    assert card.count() == 1, f"{number} {operation}: {card.count()} cards"
    return card


def report(tab: Tab, card: "Locator", completed: int, scrapped: int, done: bool) -> None:
    card.get_by_label("Completed", exact=True).fill(str(completed))
    card.get_by_label("Scrapped", exact=True).fill(str(scrapped))
    if done:
        card.get_by_role("checkbox").check()
    click_and_wait(tab, card.get_by_role("button", name=re.compile(r"^Report")))


def test_a_planner_plans_and_schedules_an_order_and_an_operator_makes_it_on_the_floor(
    browser_tab: OpenTab, demo_plant: DemoPlant
) -> None:
    plant = demo_plant
    tab = browser_tab("flow")
    page = tab.page
    reference = f"E2E-{secrets.token_hex(3).upper()}"
    start = plant.at(3, 8)

    # The planner signs in and looks at the dashboard.
    tab.sign_in(plant.email(Role.PLANNER), shot="01-login")
    before = dashboard_counts(tab)
    tab.shot("02-dashboard-before")

    # A production order with two work orders of three line items, through the form.
    tab.nav("Production orders")
    click_and_wait(tab, page.get_by_role("link", name="New production order"))
    assert tab.path == "/production-orders/new"
    fill_order_form(tab, plant, reference)
    tab.shot("03-new-order-filled")
    click_and_wait(tab, page.get_by_role("button", name="Create production order"))
    match = re.fullmatch(rf"/production-orders/({UUID})", tab.path)
    assert match, f"not on the new order's page: {tab.path}"
    order_id = uuid.UUID(match.group(1))
    created = re.fullmatch(r"Production order (PO-\d+) created\.", tab.flash())
    assert created, tab.flash()
    po_number = created.group(1)
    assert "DRAFT" in page.locator("h1").inner_text()
    made = plant.work_orders(order_id)
    assert len(made) == 2
    for wo in made:
        assert wo.state is State.DRAFT
        assert wo.quantity == WORK_ORDER_QUANTITY
        assert [(li.sequence, li.operation) for li in wo.line_items] == [
            (n + 1, op[0]) for n, op in enumerate(OPERATIONS)
        ]
        assert [li.resource_id for li in wo.line_items] == [
            plant.resources[op[1]] for op in OPERATIONS
        ]
    assert plant.order(order_id).reference == reference
    tab.shot("04-order-draft")

    # Scheduled from a start time, three days ahead.
    page.get_by_label("Start from (optional)").fill(local_input(start))
    click_and_wait(tab, page.get_by_role("button", name="Schedule", exact=True))
    assert tab.flash() == f"Production order {po_number} scheduled."
    assert "SCHEDULED" in page.locator("h1").inner_text()
    rows = page.locator("section[aria-labelledby='wos-h'] tbody th a")
    numbers = rows.all_inner_texts()
    hrefs = rows.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    wo_links = dict(zip(numbers, hrefs, strict=True))
    assert sorted(wo_links) == sorted(wo.number for wo in made)
    assert sorted(wo_links.values()) == sorted(f"/work-orders/{wo.id}" for wo in made)
    for wo in plant.work_orders(order_id):
        assert wo.state is State.SCHEDULED
        for li in wo.line_items:
            assert li.planned_start is not None
            assert li.planned_start >= start
            assert li.planned_start < start + timedelta(days=1)
    tab.shot("05-order-scheduled")

    tab.nav("Dashboard")
    scheduled = dashboard_counts(tab)
    assert scheduled["SCHEDULED"] == before["SCHEDULED"] + 2
    assert scheduled["DRAFT"] == before["DRAFT"]
    assert page.locator("section[aria-labelledby='orders-h'] a", has_text=po_number).count() == 1

    # The board of that day: one bar per line item, in its resource's row, linked to its work
    # order and labelled with its number.
    tab.nav("Schedule board")
    page.get_by_label("From", exact=True).fill(start.date().isoformat())
    click_and_wait(tab, page.get_by_role("button", name="Show"))
    assert tab.path == f"/board?zoom=day&from={start.date().isoformat()}"
    bars = page.locator("svg.gantt a.bar").evaluate_all(
        """bars => bars.map(a => ({
            href: a.getAttribute('href'),
            title: a.querySelector('title').textContent,
            text: a.querySelector('text') ? a.querySelector('text').textContent : '',
            row: a.closest('g.gantt-row').getAttribute('aria-label'),
        }))"""
    )
    for number, href in wo_links.items():
        mine = [b for b in bars if b["href"] == href]
        assert len(mine) == len(OPERATIONS), (number, bars)
        assert sorted(b["row"].split(":")[0] for b in mine) == sorted(op[2] for op in OPERATIONS)
        for bar in mine:
            assert bar["title"].startswith(f"{number} · "), bar
            short = "#" + number.rsplit("-", 1)[-1].lstrip("0")
            # the longest label that fits; none on a sliver (the title says it all)
            assert bar["text"] in ("", short) or bar["text"].startswith(number), bar
    tab.shot("06-board")
    first_number = sorted(wo_links)[0]
    click_and_wait(tab, page.locator(f"svg.gantt a.bar[href='{wo_links[first_number]}']").first)
    assert tab.path == wo_links[first_number]
    assert page.locator("h1").inner_text().startswith(f"Work order {first_number}")
    assert page.locator("section[aria-labelledby='lines-h'] tbody tr").count() == 3
    tab.shot("07-work-order-scheduled")
    tab.assert_console_clean()
    tab.sign_out()

    # The operator, on a tablet: start, report and complete every line item and work order.
    page.set_viewport_size(TABLET)
    tab.sign_in(plant.email(Role.OPERATOR))
    tab.nav("Shop floor")
    tab.shot("08-floor")
    for number in sorted(wo_links):
        for n, (operation, _code, resource_name, _setup, _run) in enumerate(OPERATIONS):
            floor_of(tab, resource_name)
            card = job_card(tab, number, n + 1, operation)
            if n == 0:
                click_and_wait(tab, card.get_by_role("button", name=f"Start {number}"))
                assert tab.flash() == f"{number} started."
                card = job_card(tab, number, n + 1, operation)
                assert "IN_PROCESS" in card.locator(".badge").first.inner_text()
                if number == first_number:
                    tab.shot("09-floor-started")
                # Reports add up: part of the run first, the rest with "done".
                report(tab, card, 600, 4, done=False)
                assert tab.flash() == f"{number} {operation}: reported 600 completed, 4 scrapped."
                card = job_card(tab, number, n + 1, operation)
                report(tab, card, 400, 1, done=True)
                assert tab.flash() == (
                    f"{number} {operation}: reported 400 completed, 1 scrapped, done."
                )
            else:
                report(tab, card, WORK_ORDER_QUANTITY, 2, done=True)
                assert tab.flash() == (
                    f"{number} {operation}: reported {WORK_ORDER_QUANTITY:,} completed, "
                    "2 scrapped, done."
                )
        card = job_card(tab, number, len(OPERATIONS), OPERATIONS[-1][0])
        if number == first_number:
            tab.shot("10-floor-ready-to-complete")
        click_and_wait(tab, card.get_by_role("button", name=f"Complete {number}"))
        assert tab.dialogs[-1] == f"Complete {number}? A completed work order is final."
        assert tab.flash() == f"{number} completed."
        assert page.locator("li.job h2", has_text=number).count() == 0
    tab.assert_console_clean()

    for wo in plant.work_orders(order_id):
        assert wo.state is State.COMPLETED
        assert wo.quantity_produced == WORK_ORDER_QUANTITY
        assert [li.status for li in wo.line_items] == [LineItemStatus.DONE] * 3
        assert [(li.quantity_completed, li.quantity_scrapped) for li in wo.line_items] == [
            (Decimal(WORK_ORDER_QUANTITY), Decimal(5)),
            (Decimal(WORK_ORDER_QUANTITY), Decimal(2)),
            (Decimal(WORK_ORDER_QUANTITY), Decimal(2)),
        ]

    # The order is COMPLETED on its page, and the dashboard counts moved.
    tab.nav("Production orders")
    click_and_wait(tab, page.get_by_role("link", name=po_number, exact=True))
    assert tab.path == f"/production-orders/{order_id}"
    assert "COMPLETED" in page.locator("h1").inner_text()
    states = page.locator("section[aria-labelledby='wos-h'] tbody .badge").all_inner_texts()
    assert states == ["COMPLETED", "COMPLETED"]
    assert "2,000 / 2,000" in page.locator("dl.facts").inner_text()
    tab.shot("11-order-completed")

    tab.nav("Dashboard")
    after = dashboard_counts(tab)
    assert after["COMPLETED"] == before["COMPLETED"] + 2
    assert after["SCHEDULED"] == scheduled["SCHEDULED"] - 2
    assert after["IN_PROCESS"] == before["IN_PROCESS"]
    assert page.locator("section[aria-labelledby='orders-h'] a", has_text=po_number).count() == 0
    tab.shot("12-dashboard-after")
    tab.assert_console_clean()


# --- (b) a viewer, and forged posts ----------------------------------------------------------

# Every control of a page that changes something: a posting form other than sign-out, a link
# to a new or edit form, a button outside the GET forms (filters, board period).
ACTIONS_JS = """() => {
  const found = [];
  const method = f => (f.getAttribute('method') || 'get').toLowerCase();
  for (const f of document.querySelectorAll('form')) {
    if (method(f) !== 'get' && f.getAttribute('action') !== '/logout') {
      found.push('form ' + f.getAttribute('action'));
    }
  }
  for (const a of document.querySelectorAll('a[href]')) {
    const href = a.getAttribute('href');
    if (/\\/(new|edit)(\\?|$)/.test(href)) found.push('link ' + href);
  }
  for (const b of document.querySelectorAll('button, input[type=submit], summary.button')) {
    const f = b.closest('form');
    if (f && (method(f) === 'get' || f.getAttribute('action') === '/logout')) continue;
    found.push('button ' + b.textContent.trim());
  }
  return found;
}"""

# A form post sent by script from the page: its status, without following a redirect (a
# post that went through answers 303, which shows as 0 here).
FORGE_JS = """async ([url, fields]) => {
  const response = await fetch(url, {method: 'POST', body: new URLSearchParams(fields),
                                     redirect: 'manual', credentials: 'same-origin'});
  return response.status;
}"""


def add_draft_order(plant: DemoPlant) -> tuple[uuid.UUID, uuid.UUID]:
    """A DRAFT production order of one work order, through the service: their ids."""
    actor = plant.tenant.actor(Role.PLANNER)
    with plant.app.state.session_factory() as session:
        item_id = session.scalar(
            select(Item.id).where(Item.org_id == plant.tenant.org_id, Item.sku == ITEM_SKU)
        )
        assert item_id is not None
        line_items = [
            LineItemIn(
                operation=operation,
                resource_id=plant.resources[code],
                setup_minutes=Decimal(setup),
                run_minutes_per_unit=Decimal(run),
            )
            for operation, code, _name, setup, run in OPERATIONS
        ]
        po = production.create_production_order(
            session,
            actor,
            ProductionOrderCreate(
                reference="DRAFT-1",
                items=[ProductionOrderItemIn(item_id=item_id, quantity=Decimal(500))],
                work_orders=[
                    WorkOrderFields(item_id=item_id, quantity=Decimal(500), line_items=line_items)
                ],
            ),
        )
        wo_id = session.scalar(select(WorkOrder.id).where(WorkOrder.production_order_id == po.id))
        assert wo_id is not None
        return po.id, wo_id


def start_first_demo_work_order(plant: DemoPlant) -> uuid.UUID:
    """Starts the demo's first work order (as its operator) and reports some bottling."""
    wo = plant.work_orders(plant.order_id)[0]
    actor = plant.tenant.actor(Role.OPERATOR)
    with plant.app.state.session_factory() as session:
        actions.start(session, actor, wo.id)
        actions.report(
            session,
            actor,
            wo.id,
            wo.line_items[0].id,
            ReportRequest(quantity_completed=Decimal(1200), quantity_scrapped=Decimal(8)),
        )
    return wo.id


def demo_lot(plant: DemoPlant, code: str) -> uuid.UUID:
    """The id of the demo's lot of this code."""
    with plant.app.state.session_factory() as session:
        lot_id: uuid.UUID | None = session.scalar(
            select(Lot.id).where(Lot.org_id == plant.tenant.org_id, Lot.code == code)
        )
    assert lot_id is not None, code
    return lot_id


def plant_pages(plant: DemoPlant, draft: tuple[uuid.UUID, uuid.UUID], running: uuid.UUID) -> Any:
    """(name, path) of the pages every role can read."""
    tomorrow = demo.first_day()
    bl1 = plant.resources["BL1"]
    draft_order, draft_work_order = draft
    return [
        ("dashboard", "/"),
        ("production-orders", "/production-orders"),
        ("production-order", f"/production-orders/{plant.order_id}"),
        ("production-order-draft", f"/production-orders/{draft_order}"),
        ("work-orders", "/work-orders"),
        ("work-order", f"/work-orders/{running}"),
        ("work-order-draft", f"/work-orders/{draft_work_order}"),
        ("resources", "/resources"),
        ("resource", f"/resources/{bl1}"),
        ("board", f"/board?zoom=day&from={tomorrow.isoformat()}"),
        ("board-week", f"/board?zoom=week&from={tomorrow.isoformat()}"),
        ("floor", "/floor"),
        ("floor-resource", f"/floor/{bl1}"),
        ("inventory", "/inventory"),
        ("lots", "/lots"),
        ("lot-in-quarantine", f"/lots/{demo_lot(plant, 'AJC70-L002')}"),
        ("lot-customer-supplied", f"/lots/{demo_lot(plant, 'AJC70-HJ01')}"),
    ]


def test_a_viewer_sees_no_action_and_forged_form_posts_are_refused(
    browser_tab: OpenTab, demo_plant: DemoPlant
) -> None:
    plant = demo_plant
    draft = add_draft_order(plant)
    running = start_first_demo_work_order(plant)
    pages = plant_pages(plant, draft, running)

    viewer = browser_tab("viewer")
    viewer.sign_in(plant.email(Role.VIEWER))
    for name, path in pages:
        viewer.goto(path)
        assert viewer.page.evaluate(ACTIONS_JS) == [], f"{name}: actions shown to a viewer"
        viewer.shot(name)
        # What the viewer looked at had work and stock on it (not empty pages).
        if name == "floor-resource":
            assert viewer.page.locator("li.job").count() >= 2
        if name == "lot-in-quarantine":
            assert "QUARANTINE" in viewer.page.locator("h1").inner_text()
    viewer.assert_console_clean()
    for path in (
        "/production-orders/new",
        f"/production-orders/{draft[0]}/edit",
        "/work-orders/new",
        f"/work-orders/{draft[1]}/edit",
    ):
        viewer.goto(path, status=403)
        assert viewer.page.locator("h1").inner_text() == "Not allowed for this role"
        assert viewer.page.evaluate(ACTIONS_JS) == []
    viewer.shot("form-refused")
    viewer.assert_console_clean(allow_refused=True)

    # The same pages show a planner their actions: the check above can see them.
    planner = browser_tab("planner")
    planner.sign_in(plant.email(Role.PLANNER))
    for name, path in pages:
        if name in ("dashboard", "resources", "resource", "board", "board-week", "floor"):
            continue
        planner.goto(path)
        assert planner.page.evaluate(ACTIONS_JS) != [], f"{name}: no actions for a planner"
    planner.assert_console_clean()

    # Forged posts, sent by script from a signed-in page: without the session's CSRF token,
    # with a wrong one, or (the viewer) with the right one but a role that may not.
    engine = plant.app.state.engine
    rows_before = db_counts(engine)
    version = plant.order(plant.order_id).version
    bl1 = plant.resources["BL1"]
    targets = [
        (f"/production-orders/{plant.order_id}/cancel", {"reason": "forged"}),
        (f"/production-orders/{draft[0]}/delete", {}),
        (f"/work-orders/{running}/pause", {"reason": "forged"}),
        (f"/floor/{bl1}/work-orders/{running}/complete", {}),
        ("/production-orders/new", {"reference": "FORGED"}),
    ]
    viewer.goto(f"/production-orders/{plant.order_id}")
    viewer_token = viewer.page.locator("form[action='/logout'] [name=csrf_token]").input_value()
    for tab, tokens in (
        (viewer, [None, "not-the-token", viewer_token]),
        (planner, [None, "not-the-token", viewer_token]),
    ):
        if tab is planner:
            tab.goto(f"/production-orders/{plant.order_id}")
        for url, fields in targets:
            for token in tokens:
                body = {**fields, **({"csrf_token": token} if token else {})}
                status = tab.page.evaluate(FORGE_JS, [url, body])
                assert status == 403, (tab.prefix, url, token, status)
        tab.assert_console_clean(allow_refused=True)

    # A form submitted by the page itself (a navigation) with a wrong token: a refusal page.
    with planner.page.expect_navigation() as navigation:
        planner.page.evaluate(
            """([url, token]) => {
                const form = document.createElement('form');
                form.method = 'post';
                form.action = url;
                for (const [name, value] of [['reason', 'forged'], ['csrf_token', token]]) {
                  const input = document.createElement('input');
                  input.type = 'hidden'; input.name = name; input.value = value;
                  form.appendChild(input);
                }
                document.body.appendChild(form);
                form.submit();
            }""",
            [targets[0][0], "not-the-token"],
        )
    assert navigation.value.status == 403
    assert "not sent from Taktline" in planner.page.locator("main").inner_text()
    planner.shot("forged-post-refused")
    planner.assert_console_clean(allow_refused=True)

    # A form on another site: the session cookie (SameSite=Lax) does not go with a cross-site
    # post, so it meets the sign-in page.
    planner.page.goto("about:blank")
    planner.page.set_content(
        f'<form method="post" action="{planner.base_url}{targets[0][0]}">'
        '<input type="hidden" name="reason" value="forged"></form>'
    )
    with planner.page.expect_navigation():
        planner.page.evaluate("document.forms[0].submit()")
    assert planner.path.startswith("/login"), planner.path
    planner.assert_console_clean()

    assert db_counts(engine) == rows_before
    assert plant.order(plant.order_id).version == version
    planner.goto(f"/production-orders/{plant.order_id}")
    assert "IN PROCESS" in planner.page.locator("h1").inner_text()
    planner.assert_console_clean()


# --- (c) every main page at two sizes ----------------------------------------------------------

FITS_JS = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"

# Every form control needs a name a screen reader can say: a <label>, aria-label or
# aria-labelledby with text. Buttons and links need text (or aria-label) too.
UNLABELLED_JS = """() => {
  const text = s => (s || '').replace(/\\s+/g, ' ').trim();
  const named = el => {
    if (el.labels && [...el.labels].some(l => text(l.textContent))) return true;
    if (text(el.getAttribute('aria-label'))) return true;
    const ids = text(el.getAttribute('aria-labelledby'));
    const said = id => text((document.getElementById(id) || {}).textContent);
    return !!ids && ids.split(' ').some(said);
  };
  const bad = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type !== 'hidden' && !named(el)) bad.push(el.outerHTML.slice(0, 120));
  }
  for (const el of document.querySelectorAll('button, a[href], summary')) {
    if (!text(el.textContent) && !text(el.getAttribute('aria-label'))) {
      bad.push(el.outerHTML.slice(0, 120));
    }
  }
  return bad;
}"""

DUPLICATE_IDS_JS = """() => {
  const seen = new Set(), twice = new Set();
  for (const el of document.querySelectorAll('[id]')) {
    (seen.has(el.id) ? twice : seen).add(el.id);
  }
  return [...twice];
}"""

# Marks the page's first action: the first visible button (or link styled as one) in <main>,
# else its first visible control or link.
MARK_FIRST_ACTION_JS = """() => {
  const visible = e => { const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; };
  const focusable = 'a[href], button, input:not([type=hidden]), select, textarea, summary';
  const all = [...document.querySelectorAll('main ' + focusable.split(', ').join(', main '))]
    .filter(e => !e.disabled && visible(e));
  const action = all.find(e => e.matches('button, a.button, summary.button, input[type=submit]'))
    || all[0];
  if (!action) return null;
  action.setAttribute('data-first-action', '');
  return action.outerHTML.slice(0, 120);
}"""

FOCUSED_JS = """() => {
  const e = document.activeElement;
  const r = e.getBoundingClientRect();
  return {
    html: e.outerHTML.slice(0, 120),
    text: e.textContent.replace(/\\s+/g, ' ').trim(),
    visible: r.width > 0 && r.height > 0 && r.right > 0 && r.left < window.innerWidth,
    skip: e.matches('a.skip[href="#main"]'),
    nav: !!e.closest('nav[aria-label=Main]'),
    action: e.hasAttribute('data-first-action'),
  };
}"""

NAV_LINKS = [
    "Dashboard",
    "Production orders",
    "Work orders",
    "BOMs",
    "Inventory",
    "Resources",
    "Schedule board",
    "Shop floor",
]


def keyboard_path(tab: Tab, name: str, limit: int = 100) -> None:
    """From the top of the page, Tab goes to the skip link, through every link of the main
    navigation, then on to the page's first action; every stop on the way is visible."""
    page = tab.page
    target = page.evaluate(MARK_FIRST_ACTION_JS)
    assert target, f"{name}: nothing to act on in <main>"
    nav: list[str] = []
    for stop in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED_JS)
        if stop == 0:
            assert focused["skip"], f"{name}: the first Tab stop is not the skip link: {focused}"
        assert focused["visible"], f"{name}: Tab stop {stop} cannot be seen: {focused}"
        if focused["nav"]:
            nav.append(focused["text"])
        if focused["action"]:
            assert nav == NAV_LINKS, f"{name}: the main navigation by Tab was {nav}"
            return
    raise AssertionError(f"{name}: {limit} Tab stops did not reach the first action {target}")


def check_page(tab: Tab, name: str) -> None:
    page = tab.page
    scroll_width, width = page.evaluate(FITS_JS)
    assert scroll_width <= width, f"{name} scrolls sideways at {tab.viewport}"
    assert page.evaluate(UNLABELLED_JS) == [], f"{name}: controls without a label"
    assert page.evaluate(DUPLICATE_IDS_JS) == [], f"{name}: ids used twice"
    keyboard_path(tab, name)
    tab.shot(name)
    tab.assert_console_clean()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", [LAPTOP, TABLET], ids=["1280x800", "768x1024"])
def test_every_main_page_is_clean_fits_the_screen_and_works_with_a_keyboard(
    browser_tab: OpenTab, demo_plant: DemoPlant, viewport: "ViewportSize"
) -> None:
    plant = demo_plant
    draft = add_draft_order(plant)
    running = start_first_demo_work_order(plant)
    tab = browser_tab("pages", viewport=viewport)
    page = tab.page

    # Signed out: the sign-in page, its email field focused, Tab on to the password.
    tab.goto("/login")
    scroll_width, width = page.evaluate(FITS_JS)
    assert scroll_width <= width
    assert page.evaluate(UNLABELLED_JS) == []
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUSED_JS)["skip"]
    for expected in ("email", "password"):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == expected
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    tab.shot("login")
    tab.assert_console_clean()

    tab.sign_in(plant.email(Role.PLANNER))
    # The skip link takes the keyboard to the content.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    pages = plant_pages(plant, draft, running)
    pages[4:4] = [
        ("production-order-new", "/production-orders/new"),
        ("production-order-edit", f"/production-orders/{draft[0]}/edit"),
    ]
    pages[9:9] = [
        ("work-order-new", "/work-orders/new"),
        ("work-order-edit", f"/work-orders/{draft[1]}/edit"),
    ]
    pages.append(("receive", "/receipts/new"))
    for name, path in pages:
        tab.goto(path)
        check_page(tab, name)

    # Rows added by the form's script are labelled and fit too.
    tab.goto("/production-orders/new")
    page.get_by_role("button", name="Add work order", exact=True).click()
    page.locator("fieldset.wo-block").nth(1).get_by_role("button", name="Add line item").click()
    page.get_by_role("button", name="Add item", exact=True).click()
    assert page.locator("[name='work_orders.1.line_items.1.operation']").count() == 1
    assert page.evaluate(UNLABELLED_JS) == []
    assert page.evaluate(DUPLICATE_IDS_JS) == []
    scroll_width, width = page.evaluate(FITS_JS)
    assert scroll_width <= width
    tab.shot("production-order-new-rows-added")
    tab.assert_console_clean()
