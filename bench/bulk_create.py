"""One production order of 1,000 work orders of 3 line items each, in one request.

Times POST /production-orders with such a body (541 KB of JSON, under the 1 MiB limit)
through the whole application in process (TestClient: the HTTP stack, authentication,
parsing and validating the body, the use case, the answer with the 1,000 work orders'
briefs) against a raw insert of the same rows: the same production order, its item, 1,000
work orders, 3,000 line items and 1,001 create events, numbers reserved as the application
reserves them, written by hand through the database driver (executemany, one transaction,
the driver's own conversions and nothing else). The two take turns, `--repeat` times; p50
and p95 of each and the ratio of the p50s.

    .venv/bin/python bench/bulk_create.py                     # a fresh SQLite database
    .venv/bin/python bench/bulk_create.py --database-url postgresql://postgres@127.0.0.1:5432/test

bench/api_scale.py runs the same measurement on the plant it seeds (tables of a million
work orders, every index of them to keep up).
"""

import json
import math
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

import plant
from taktline.db import new_id
from taktline.orders.lifecycle import LineItemStatus, State

WORK_ORDERS = 1000
LINES = ("Bottling", "Labeling", "Casing")
PATH = "/api/v1/production-orders"


def body(org: plant.Org, n: int = WORK_ORDERS, start: int = 0) -> dict[str, Any]:
    """A production order of `n` work orders of three line items each, on `org`'s items and
    resources."""

    def work_order(i: int) -> dict[str, Any]:
        return {
            "item_id": str(org.items[i % len(org.items)]),
            "quantity": 100 + i % 900,
            "priority": i % 100,
            "due_date": f"2027-{1 + i % 12:02d}-{1 + i % 28:02d}T17:00:00Z",
            "line_items": [
                {
                    "operation": op,
                    "resource_id": str(org.resources[(i + k) % len(org.resources)]),
                    "setup_minutes": 15,
                    "run_minutes_per_unit": "0.05",
                }
                for k, op in enumerate(LINES)
            ],
        }

    return {
        "reference": f"BULK-{start:06d}",
        "items": [{"item_id": str(org.items[0]), "quantity": 1000 * n}],
        "work_orders": [work_order(start + i) for i in range(n)],
    }


# --- the raw insert ------------------------------------------------------------------------


def _sqlite_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _quantity_sqlite(value: Decimal) -> int:
    return int(value * 1_000_000)


class RawInsert:
    """The rows of a production order body, written by hand through the driver."""

    def __init__(self, engine: Engine, org: plant.Org, user_id: uuid.UUID, email: str) -> None:
        self.engine = engine
        self.org = org
        self.user_id = user_id
        self.email = email
        self.sqlite = engine.dialect.name == "sqlite"

    def _values(self, row: Sequence[Any]) -> tuple[Any, ...]:
        if not self.sqlite:
            return tuple(row)
        out: list[Any] = []
        for value in row:
            if isinstance(value, uuid.UUID):
                out.append(value.hex)
            elif isinstance(value, datetime):
                out.append(_sqlite_time(value))
            elif isinstance(value, Decimal):
                out.append(_quantity_sqlite(value))
            elif isinstance(value, bool):
                out.append(int(value))
            else:
                out.append(value)
        return tuple(out)

    def run(self, data: dict[str, Any]) -> None:
        from psycopg.types.json import Json

        mark = "?" if self.sqlite else "%s"
        as_json: Callable[[Any], Any] = json.dumps if self.sqlite else Json
        raw = self.engine.raw_connection()
        try:
            db: Any = raw.driver_connection
            cur = db.cursor()
            if self.sqlite:
                cur.execute("BEGIN IMMEDIATE")
            org = self.org.id
            org_p = org.hex if self.sqlite else org

            def reserve(kind: str, count: int) -> int:
                cur.execute(
                    f"UPDATE number_sequences SET last_value = last_value + {mark} "
                    f"WHERE org_id = {mark} AND kind = {mark} RETURNING last_value",
                    (count, org_p, kind),
                )
                return int(cur.fetchone()[0])

            def insert(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
                names = ", ".join(columns)
                marks = ", ".join(mark for _ in columns)
                cur.executemany(
                    f"INSERT INTO {table} ({names}) VALUES ({marks})",
                    [self._values(r) for r in rows],
                )

            now = datetime.now(UTC)
            wos = data["work_orders"]
            po_number = reserve("production_order", 1)
            last = reserve("work_order", len(wos))
            po_id = new_id()
            insert(
                "production_orders",
                ("id", "org_id", "version", "created_at", "updated_at", "number", "state",
                 "owner_id", "reference", "due_date", "priority", "notes"),
                [(po_id, org, 1, now, now, f"PO-{po_number:06d}", State.DRAFT.value, None,
                  data["reference"], None, 50, None)],
            )  # fmt: skip
            insert(
                "production_order_items",
                ("id", "org_id", "production_order_id", "position", "item_id", "quantity", "unit"),
                [(new_id(), org, po_id, 1, uuid.UUID(data["items"][0]["item_id"]),
                  Decimal(data["items"][0]["quantity"]), "ea")],
            )  # fmt: skip
            event_columns = (
                "id", "org_id", "entity_type", "entity_id", "parent_id", "action", "from_state",
                "to_state", "actor_id", "actor_email", "at", "reason", "changes",
            )  # fmt: skip
            po_change = {k: v for k, v in data.items() if k != "work_orders"}
            events: list[tuple[Any, ...]] = [
                (new_id(), org, "production_order", po_id, None, "create", None, "DRAFT",
                 self.user_id, self.email, now, None, as_json(po_change))
            ]  # fmt: skip
            wo_rows: list[tuple[Any, ...]] = []
            li_rows: list[tuple[Any, ...]] = []
            for n, wo in enumerate(wos, start=last - len(wos) + 1):
                wo_id = new_id()
                wo_rows.append(
                    (wo_id, org, 1, now, now, f"WO-{n:06d}", State.DRAFT.value, po_id,
                     uuid.UUID(wo["item_id"]), Decimal(wo["quantity"]), "ea", None,
                     datetime.fromisoformat(wo["due_date"]), wo["priority"], None, None, None,
                     None, Decimal(0), Decimal(0), False, None, None, False)
                )  # fmt: skip
                for seq, li in enumerate(wo["line_items"], start=1):
                    li_rows.append(
                        (new_id(), org, wo_id, seq, li["operation"], uuid.UUID(li["resource_id"]),
                         Decimal(li["setup_minutes"]), Decimal(li["run_minutes_per_unit"]), None,
                         None, None, None, Decimal(0), Decimal(0), LineItemStatus.PENDING.value,
                         False)
                    )  # fmt: skip
                events.append(
                    (new_id(), org, "work_order", wo_id, po_id, "create", None, "DRAFT",
                     self.user_id, self.email, now, None, as_json(wo))
                )  # fmt: skip
            insert(
                "work_orders",
                ("id", "org_id", "version", "created_at", "updated_at", "number", "state",
                 "production_order_id", "item_id", "quantity", "unit", "instructions",
                 "due_date", "priority", "planned_start", "planned_end", "actual_start",
                 "actual_end", "quantity_produced", "quantity_scrapped", "on_hold",
                 "hold_reason", "release_at", "pinned"),
                wo_rows,
            )  # fmt: skip
            insert(
                "work_order_line_items",
                ("id", "org_id", "work_order_id", "sequence", "operation", "resource_id",
                 "setup_minutes", "run_minutes_per_unit", "planned_start", "planned_end",
                 "actual_start", "actual_end", "quantity_completed", "quantity_scrapped",
                 "status", "interruptible"),
                li_rows,
            )  # fmt: skip
            insert("events", event_columns, events)
            if self.sqlite:
                cur.execute("COMMIT")
            else:
                db.commit()
        finally:
            raw.close()


# --- measuring -----------------------------------------------------------------------------


def p95(runs: Sequence[float]) -> float:
    ordered = sorted(runs)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def measure(
    client: TestClient,
    token: str,
    engine: Engine,
    org: plant.Org,
    user: tuple[uuid.UUID, str],
    repeat: int,
) -> dict[str, Any]:
    """Ours and raw in turns, `repeat` times each; milliseconds."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    raw = RawInsert(engine, org, *user)
    ours_ms: list[float] = []
    raw_ms: list[float] = []
    size = 0
    for r in range(repeat + 1):
        content = json.dumps(body(org, start=r * WORK_ORDERS)).encode()
        data = json.loads(content)
        size = len(content)

        def ours(content: bytes = content) -> None:
            response = client.post(PATH, content=content, headers=headers)
            assert response.status_code == 201, response.text[:500]
            assert len(response.json()["work_orders"]) == WORK_ORDERS

        def by_hand(data: dict[str, Any] = data) -> None:
            raw.run(data)

        steps: list[tuple[list[float], Callable[[], None]]] = [(ours_ms, ours), (raw_ms, by_hand)]
        for runs, step in steps if r % 2 == 0 else reversed(steps):
            t0 = time.perf_counter()
            step()
            if r:  # the first round warms up
                runs.append((time.perf_counter() - t0) * 1000)
    result = {
        "work_orders": WORK_ORDERS,
        "line_items": WORK_ORDERS * len(LINES),
        "body_bytes": size,
        "ours_p50_ms": round(statistics.median(ours_ms), 1),
        "ours_p95_ms": round(p95(ours_ms), 1),
        "raw_p50_ms": round(statistics.median(raw_ms), 1),
        "raw_p95_ms": round(p95(raw_ms), 1),
    }
    result["ratio"] = round(result["ours_p50_ms"] / result["raw_p50_ms"], 2)
    print(
        f"bulk create, 1 request of {WORK_ORDERS} work orders x {len(LINES)} line items "
        f"({size / 1024:.0f} KiB): ours p50 {result['ours_p50_ms']:.0f} ms "
        f"p95 {result['ours_p95_ms']:.0f} ms, raw insert of the same rows "
        f"p50 {result['raw_p50_ms']:.0f} ms p95 {result['raw_p95_ms']:.0f} ms, "
        f"ratio {result['ratio']:.2f}",
        flush=True,
    )
    return result


def main() -> None:
    def run(client: TestClient, app: Any, org: plant.Org, repeat: int) -> dict[str, Any]:
        user = plant.planner_of(app.state.session_factory, org)
        return measure(client, org.token, app.state.engine, org, user, repeat)

    plant.run_on_empty_plant(__doc__.split("\n")[0], run)


if __name__ == "__main__":
    main()
