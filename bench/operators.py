"""A shift of operators at once: 32 clients start, report and complete work orders over real
HTTP against `taktline serve --workers N`, side by side with raw SQL doing what a correct
action needs from 32 connections, one after the other in one run on the same database.

    .venv/bin/python bench/operators.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/operators.py                       # SQLite (one writer at a time)
    .venv/bin/python bench/operators.py --order-size 200      # production orders of 200

Every request of a client is one action (start; report each of three line items, done;
complete). Prints actions/s, p50 and p95 latency of both, and the ratio, and a JSON summary.

The clients are threads of this process, each with one keep-alive connection through the
standard library's http.client: real HTTP, at a fraction of httpx's CPU per request (this
machine's two cores are shared by the clients, the server and the database).

The raw side does, per action, what the product must: find the token's user (by its
SHA-256), lock the work order (and read its line items, which a report is checked against),
change it and its line item, write the report (`line_item_reports`) and the event; a start
moves a production order that is not yet IN_PROCESS (one conditional UPDATE); a complete
releases the bookings and the allocations and, with the production order locked first (so
that the last two completes cannot both miss being last), completes the order when no work
is left open; a report on the last line item puts what it completed into the work order's
output lot (found, or made with a code numbered by the item's counter of the day, claimed
apart from the action's transaction on PostgreSQL, as the product does), locked, with its
PRODUCE entry in the ledger.
`--raw minimal` is the raw side before issue 8's fixes: the lock, the two UPDATEs and the
event only.
"""

import argparse
import hashlib
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, Engine, create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plant import scratch_database
from taktline import migrate
from taktline.auth import service as auth
from taktline.db import create_db_engine, create_session_factory, new_id, transaction
from taktline.permissions import Role

API = "/api/v1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(base: str, planner: str, work_orders: int, order_size: int = 4) -> list[dict[str, Any]]:
    """Scheduled work orders of three line items on resources that take any number at once."""
    h = {"Authorization": f"Bearer {planner}"}
    with httpx.Client(base_url=base, headers=h, timeout=120) as http:
        facility = http.post(f"{API}/facilities", json={"name": "Bench", "timezone": "UTC"})
        facility.raise_for_status()
        item = http.post(f"{API}/items", json={"sku": "B-1", "name": "Bench", "unit": "ea"})
        item.raise_for_status()
        resources = []
        for code in ("FILL", "LABEL", "CASE"):
            r = http.post(
                f"{API}/resources",
                json={
                    "code": code,
                    "name": code,
                    "kind": "LINE",
                    "facility_id": facility.json()["id"],
                    "parallel_capacity": 1000,
                },
            )
            r.raise_for_status()
            resources.append(r.json()["id"])
        start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
        made: list[dict[str, Any]] = []
        while len(made) < work_orders:
            # a customer order of a few work orders, as a plant has them
            n = min(order_size, work_orders - len(made))
            body = {
                "items": [{"item_id": item.json()["id"], "quantity": str(10 * n)}],
                "work_orders": [
                    {
                        "item_id": item.json()["id"],
                        "quantity": "10",
                        "line_items": [
                            {"operation": op, "resource_id": rid, "setup_minutes": "10"}
                            for op, rid in zip(("Fill", "Label", "Case"), resources, strict=True)
                        ],
                    }
                    for _ in range(n)
                ],
            }
            po = http.post(f"{API}/production-orders", json=body)
            po.raise_for_status()
            scheduled = http.post(
                f"{API}/production-orders/{po.json()['id']}/schedule",
                json={"start": start.isoformat()},
            )
            scheduled.raise_for_status()
            cursor = None
            while True:
                listed = http.get(
                    f"{API}/work-orders",
                    params={"production_order_id": po.json()["id"], "limit": 500}
                    | ({"cursor": cursor} if cursor else {}),
                ).json()
                made.extend(listed["items"])
                if not (cursor := listed["next_cursor"]):
                    break
    return made


def run_clients(
    clients: int, queues: list[list[Any]], act: Callable[[Any, Any], None], duration: float
) -> tuple[int, list[float]]:
    """Each client works through its queue until `duration` passes; (actions, latencies)."""
    latencies: list[float] = []
    count = [0]
    lock = threading.Lock()
    stop = time.monotonic() + duration

    def client(queue: list[Any]) -> None:
        mine: list[float] = []
        for job in queue:
            for step in job:
                if time.monotonic() > stop:
                    break
                began = time.perf_counter()
                act(queue, step)
                mine.append(time.perf_counter() - began)
            if time.monotonic() > stop:
                break
        with lock:
            latencies.extend(mine)
            count[0] += len(mine)

    threads = [threading.Thread(target=client, args=(q,)) for q in queues[:clients]]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count[0], [*latencies, time.monotonic() - began]


def _steps(wo: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    base = f"{API}/work-orders/{wo['id']}"
    steps: list[tuple[str, str, dict[str, Any] | None]] = [(wo["id"], f"{base}/start", None)]
    for li in wo["line_items"]:
        steps.append(
            (
                wo["id"],
                f"{base}/line-items/{li['id']}/report",
                {"quantity_completed": "10", "done": True},
            )
        )
    steps.append((wo["id"], f"{base}/complete", {}))
    return steps


Step = tuple[str, str, dict[str, Any] | None]  # work order id, path, body
OPEN = "('DRAFT', 'SCHEDULED', 'IN_PROCESS')"
DAY = timedelta(days=1)


class RawActions:
    """The actions in raw SQL through SQLAlchemy Core on a pool of its own (see the module's
    docstring for what each one does, and why)."""

    def __init__(self, engine: Engine, org_id: uuid.UUID, token: str, minimal: bool) -> None:
        self.engine, self.minimal = engine, minimal
        self.apart = (
            create_engine(engine.url, pool_size=2, max_overflow=6)
            if engine.dialect.name == "postgresql"
            else None
        )
        self.token = token  # hashed per action, as the server does
        postgres = engine.dialect.name == "postgresql"
        self.for_update = " FOR UPDATE" if postgres else ""
        self.of_wo = " FOR UPDATE OF wo" if postgres else ""
        # SQLite keeps ids as 32 hex digits and quantities as whole millionths (taktline.db)
        self.ident: Callable[[str], Any] = uuid.UUID if postgres else (lambda i: uuid.UUID(i).hex)
        self.ten = 10 if postgres else 10 * 10**6
        self.org_id = self.ident(str(org_id))
        self.now: Callable[[], datetime] = (
            (lambda: datetime.now(UTC))
            if postgres
            else (lambda: datetime.now(UTC).replace(tzinfo=None))
        )

    def __call__(self, _: Any, step: Step) -> None:
        wo_id, path, _body = step
        action = path.rsplit("/", 1)[1]
        wo = self.ident(wo_id)
        with self.engine.begin() as conn:
            if self.minimal:
                self._minimal(conn, wo, path, action)
                return
            user = conn.execute(
                text("SELECT u.id, u.email, u.role, u.active, t.revoked_at, t.expires_at "
                     "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = :h"),
                {"h": hashlib.sha256(self.token.encode()).hexdigest()},
            ).one()  # fmt: skip
            po = None
            if action == "complete":
                po = conn.execute(
                    text("SELECT po.id FROM production_orders po JOIN work_orders wo "
                         f"ON wo.production_order_id = po.id WHERE wo.id = :wo{self.for_update}"),
                    {"wo": wo},
                ).scalar()  # fmt: skip
            lines = conn.execute(
                text("SELECT wo.production_order_id, wo.state, li.id, li.status, "
                     "li.quantity_completed, li.sequence, wo.item_id, li.resource_id "
                     "FROM work_orders wo JOIN work_order_line_items li "
                     f"ON li.work_order_id = wo.id WHERE wo.id = :wo AND wo.org_id = :org "
                     f"ORDER BY li.sequence{self.of_wo}"),
                {"wo": wo, "org": self.org_id},
            ).all()  # fmt: skip
            po = po or lines[0][0]
            now = self.now()
            changes: dict[str, Any] = {}
            if action == "start":
                self._update_wo(conn, wo, now, "state = 'IN_PROCESS', actual_start = :now, ")
            elif action == "report":
                li_id = self.ident(path.rsplit("/", 2)[1])
                report_id = new_id()
                conn.execute(
                    text("UPDATE work_order_line_items SET quantity_completed = "
                         "quantity_completed + :q, status = 'DONE', actual_start = "
                         "coalesce(actual_start, :now), actual_end = :now WHERE id = :id"),
                    {"id": li_id, "q": self.ten, "now": now},
                )  # fmt: skip
                conn.execute(
                    text("INSERT INTO line_item_reports (id, org_id, work_order_id, "
                         "line_item_id, quantity_completed, quantity_scrapped, done, actor_id, "
                         "actor_email, at) VALUES (:id, :org, :wo, :li, :q, 0, true, :user, "
                         ":email, :now)"),
                    {"id": self.ident(str(report_id)), "org": self.org_id, "wo": wo, "li": li_id,
                     "q": self.ten, "user": user.id, "email": user.email, "now": now},
                )  # fmt: skip
                changes = {"report_id": str(report_id), "quantity_completed": "10"}
                if li_id == lines[-1][2]:
                    self._produce(conn, wo, lines[-1], user, now)
                self._update_wo(conn, wo, now, "quantity_produced = :q, ", q=self.ten)
            else:
                self._update_wo(conn, wo, now, "state = 'COMPLETED', actual_end = :now, ")
                conn.execute(
                    text("DELETE FROM resource_bookings WHERE work_order_id = :wo"), {"wo": wo}
                )
                conn.execute(
                    text("SELECT id, lot_id, quantity FROM allocations WHERE work_order_id = :wo"),
                    {"wo": wo},
                )
            self._event(conn, "work_order", wo, action, user, now, changes, parent=po)
            if action == "start":
                moved = conn.execute(
                    text("UPDATE production_orders SET state = 'IN_PROCESS', "
                         "version = version + 1, updated_at = :now WHERE id = :po AND state IN "
                         "('DRAFT', 'SCHEDULED') RETURNING id"),
                    {"po": po, "now": now},
                ).first()  # fmt: skip
            elif action == "complete":
                moved = conn.execute(
                    text("UPDATE production_orders SET state = 'COMPLETED', "
                         "version = version + 1, updated_at = :now WHERE id = :po AND NOT EXISTS "
                         "(SELECT 1 FROM work_orders WHERE production_order_id = :po AND state IN "
                         f"{OPEN}) RETURNING id"),
                    {"po": po, "now": now},
                ).first()  # fmt: skip
            else:
                moved = None
            if moved is not None:
                self._event(conn, "production_order", po, "follow", user, now, {})

    def _produce(self, conn: Connection, wo: Any, line: Any, user: Any, now: datetime) -> None:
        """What was completed on the last line item into the work order's output lot."""
        lot = conn.execute(
            text("SELECT id FROM lots WHERE work_order_id = :wo AND origin = 'PRODUCED' "
                 "ORDER BY id DESC LIMIT 1"),
            {"wo": wo},
        ).scalar()  # fmt: skip
        if lot is None:
            item_id, resource_id = line[6], line[7]
            day = now.replace(hour=0, minute=0, second=0, microsecond=0)
            while True:
                number = self._claim_number(conn, item_id, day)
                code = f"B-1-{day:%y%j}-{number}"
                taken = conn.execute(
                    text("SELECT id FROM lots WHERE org_id = :org AND item_id = :item "
                         "AND code = :code"),
                    {"org": self.org_id, "item": item_id, "code": code},
                ).scalar()  # fmt: skip
                if taken is None:
                    break
            lot = self.ident(str(new_id()))
            conn.execute(
                text("INSERT INTO lots (id, org_id, item_id, code, facility_id, status, origin, "
                     "made_at, unit, quantity_on_hand, quantity_allocated, work_order_id, "
                     "version, created_at, updated_at) SELECT :id, :org, :item, :code, "
                     "r.facility_id, 'AVAILABLE', 'PRODUCED', :now, 'ea', 0, 0, :wo, 1, :now, "
                     ":now FROM resources r WHERE r.id = :r"),
                {"id": lot, "org": self.org_id, "item": item_id, "wo": wo, "now": now,
                 "code": code, "r": resource_id},
            )  # fmt: skip
        conn.execute(
            text(f"SELECT quantity_on_hand FROM lots WHERE id = :lot{self.for_update}"),
            {"lot": lot},
        )
        conn.execute(
            text("INSERT INTO inventory_entries (id, org_id, lot_id, kind, on_hand_change, "
                 "allocated_change, work_order_id, substitution, actor_id, actor_email, at) "
                 "VALUES (:id, :org, :lot, 'PRODUCE', :q, 0, :wo, false, :user, :email, :now)"),
            {"id": self.ident(str(new_id())), "org": self.org_id, "lot": lot, "q": self.ten,
             "wo": wo, "user": user.id, "email": user.email, "now": now},
        )  # fmt: skip
        conn.execute(
            text("UPDATE lots SET quantity_on_hand = quantity_on_hand + :q, "
                 "version = version + 1, updated_at = :now WHERE id = :lot"),
            {"lot": lot, "q": self.ten, "now": now},
        )  # fmt: skip

    def _claim_number(self, conn: Connection, item_id: Any, day: datetime) -> int:
        """The item's next lot number of the day, from its counter: on PostgreSQL committed
        at once on a connection of its own (so that lots made at once do not wait for each
        other's transactions), on SQLite in the action's transaction (it holds the one
        writer's lock already)."""
        claim = text(
            "INSERT INTO lot_code_counters (org_id, item_id, day, last_number) VALUES (:org, "
            ":item, :day, (SELECT count(*) FROM lots WHERE org_id = :org AND item_id = :item "
            "AND made_at >= :day AND made_at < :next) + 1) ON CONFLICT (org_id, item_id, day) "
            "DO UPDATE SET last_number = lot_code_counters.last_number + 1 RETURNING last_number"
        )
        values = {"org": self.org_id, "item": item_id, "day": day.date(), "next": day + DAY}
        if self.apart is None:
            return int(conn.execute(claim, values).scalar_one())
        with self.apart.begin() as apart:
            return int(apart.execute(claim, values).scalar_one())

    def _update_wo(self, conn: Connection, wo: Any, now: datetime, sets: str, **more: Any) -> None:
        conn.execute(
            text(f"UPDATE work_orders SET {sets}version = version + 1, updated_at = :now "
                 "WHERE id = :wo"),
            {"wo": wo, "now": now, **more},
        )  # fmt: skip

    def _event(
        self, conn: Connection, kind: str, entity: Any, action: str, user: Any, now: datetime,
        changes: dict[str, Any], parent: Any = None,
    ) -> None:  # fmt: skip
        conn.execute(
            text("INSERT INTO events (id, org_id, entity_type, entity_id, parent_id, action, "
                 "actor_id, actor_email, at, changes) VALUES (:id, :org, :kind, :entity, "
                 ":parent, :action, :user, :email, :now, :changes)"),
            {"id": self.ident(str(new_id())), "org": self.org_id, "kind": kind,
             "entity": entity, "parent": parent, "action": action, "user": user.id,
             "email": user.email, "now": now, "changes": json.dumps(changes)},
        )  # fmt: skip

    def _minimal(self, conn: Connection, wo: Any, path: str, action: str) -> None:
        """The raw side as it was before issue 8's fixes."""
        now = self.now()
        conn.execute(
            text(f"SELECT version FROM work_orders WHERE id = :id{self.for_update}"), {"id": wo}
        )
        if action == "report":
            conn.execute(
                text("UPDATE work_order_line_items SET quantity_completed = "
                     "quantity_completed + :q, status = 'DONE' WHERE id = :id"),
                {"id": self.ident(path.rsplit("/", 2)[1]), "q": self.ten},
            )  # fmt: skip
        self._update_wo(conn, wo, now, "")
        conn.execute(
            text("INSERT INTO events (id, org_id, entity_type, entity_id, action, at, "
                 "changes) VALUES (:id, :org, 'work_order', :wo, :action, :now, '{}')"),
            {"id": self.ident(str(uuid.uuid4())), "org": self.org_id, "wo": wo,
             "action": action, "now": now},
        )  # fmt: skip


class HttpActions:
    """The actions over HTTP: one keep-alive connection per client thread."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.local = threading.local()

    def __call__(self, _: Any, step: Step) -> None:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        body = json.dumps(step[2]).encode() if step[2] is not None else b""
        conn.request("POST", step[1], body=body, headers=self.headers)
        answer = conn.getresponse()
        content = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{step[1]}: {answer.status} {content[:500]!r}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--order-size", type=int, default=4, help="work orders per production order")
    ap.add_argument("--raw", choices=("correct", "minimal"), default="correct")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with scratch_database(args.database_url) as url:
        migrate.upgrade(url)
        engine = create_db_engine(url)
        with create_session_factory(engine)() as session, transaction(session):
            org = auth.get_or_create_org(session, f"Bench {secrets.token_hex(3)}")
            tokens = {}
            for role in (Role.PLANNER, Role.OPERATOR):
                user = auth.get_or_create_user(session, org, f"{role}@bench.example", role)
                tokens[role] = auth.create_token(session, user)
        port = _free_port()
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("taktline")), "serve", "--port", str(port),
             "--workers", str(args.workers)],
            env={**os.environ, "TAKTLINE_DATABASE_URL": url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}{API}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            per_client = 25
            work = seed(base, tokens[Role.PLANNER], 2 * args.clients * per_client, args.order_size)
            ours = [[_steps(w) for w in work[i :: 2 * args.clients]] for i in range(args.clients)]
            raws = [
                [_steps(w) for w in work[args.clients + i :: 2 * args.clients]]
                for i in range(args.clients)
            ]
            api_act = HttpActions(port, tokens[Role.OPERATOR])
            raw_engine = create_engine(
                make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)),
                pool_size=args.clients,
                max_overflow=0,
            )
            raw_act = RawActions(raw_engine, org.id, tokens[Role.OPERATOR], args.raw == "minimal")

            print(f"seeded {len(work)} work orders; the clients start", flush=True)
            results: dict[str, dict[str, Any]] = {}
            for name, queues, act in (("api", ours, api_act), ("raw", raws, raw_act)):
                n, lat = run_clients(args.clients, queues, act, args.seconds)
                wall, lat = lat[-1], sorted(lat[:-1])
                results[name] = {
                    "actions": n,
                    "actions_per_s": round(n / wall, 1),
                    "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
                    "p95_ms": round(lat[int(0.95 * (len(lat) - 1))] * 1000, 1) if lat else None,
                }
                print(
                    f"{name:4} {args.clients} clients: {results[name]['actions_per_s']:8.1f} "
                    f"actions/s, p50 {results[name]['p50_ms']} ms, p95 {results[name]['p95_ms']} ms"
                )
            rates = {name: float(r["actions_per_s"]) for name, r in results.items()}
            ratio = rates["api"] / max(rates["raw"], 0.1)
            print(f"Taktline reaches {ratio:.0%} of the raw rate ({args.workers} workers)")
            summary = {"database": make_url(url).get_backend_name(), "workers": args.workers,
                       "clients": args.clients, "order_size": args.order_size, "raw_side": args.raw,
                       **results, "ratio": round(ratio, 3),
                       "load": os.getloadavg()}  # fmt: skip
            print(json.dumps(summary))
            if args.json:
                args.json.write_text(json.dumps(summary, indent=2))
            raw_engine.dispose()
        finally:
            server.terminate()
            server.wait(timeout=30)
            engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
