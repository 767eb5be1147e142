"""A shift of operators at once: 32 clients start, report and complete work orders over real
HTTP against `taktline serve --workers N`, side by side with raw SQL doing the same writes
(lock the work order, change it and its line item, write the event) from 32 connections,
interleaved in one run on the same database.

    .venv/bin/python bench/operators.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/operators.py                       # SQLite (one writer at a time)

Every request of a client is one action (start; report each of three line items, done;
complete). Prints actions/s, p50 and p95 latency of both, and the ratio, and a JSON summary.
"""

import argparse
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
from sqlalchemy import create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plant import scratch_database
from taktline import migrate
from taktline.auth import service as auth
from taktline.db import create_db_engine, create_session_factory, transaction
from taktline.permissions import Role

API = "/api/v1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(base: str, planner: str, work_orders: int) -> list[dict[str, Any]]:
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
            n = min(4, work_orders - len(made))
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
            listed = http.get(f"{API}/work-orders", params={"production_order_id": po.json()["id"]})
            made.extend(listed.json()["items"])
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seconds", type=float, default=15.0)
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
            work = seed(base, tokens[Role.PLANNER], 2 * args.clients * per_client)
            ours = [[_steps(w) for w in work[i :: 2 * args.clients]] for i in range(args.clients)]
            raws = [
                [_steps(w) for w in work[args.clients + i :: 2 * args.clients]]
                for i in range(args.clients)
            ]
            operator = {"Authorization": f"Bearer {tokens[Role.OPERATOR]}"}
            local = threading.local()

            def api_act(_: Any, step: tuple[str, str, dict[str, Any] | None]) -> None:
                http = getattr(local, "http", None)
                if http is None:
                    http = local.http = httpx.Client(base_url=base, headers=operator, timeout=60)
                answer = (
                    http.post(step[1], json=step[2]) if step[2] is not None else http.post(step[1])
                )
                answer.raise_for_status()

            raw_engine = create_engine(
                make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)),
                pool_size=args.clients,
                max_overflow=0,
            )

            def raw_act(_: Any, step: tuple[str, str, dict[str, Any] | None]) -> None:
                wo_id, path, _body = step
                action = path.rsplit("/", 1)[1]
                now = datetime.now(UTC)
                with raw_engine.begin() as conn:
                    if raw_engine.dialect.name == "sqlite":
                        conn.exec_driver_sql("SELECT 1")  # SQLite serialises writers itself
                    else:
                        conn.execute(
                            text("SELECT version FROM work_orders WHERE id = :id FOR UPDATE"),
                            {"id": wo_id},
                        )
                    if action == "report":
                        li_id = path.rsplit("/", 2)[1]
                        conn.execute(
                            text("UPDATE work_order_line_items SET quantity_completed = "
                                 "quantity_completed + 10, status = 'DONE' WHERE id = :id"),
                            {"id": li_id},
                        )  # fmt: skip
                    conn.execute(
                        text("UPDATE work_orders SET version = version + 1, updated_at = :now "
                             "WHERE id = :id"),
                        {"id": wo_id, "now": now},
                    )  # fmt: skip
                    conn.execute(
                        text("INSERT INTO events (id, org_id, entity_type, entity_id, action, at, "
                             "changes) VALUES (:id, :org, 'work_order', :wo, :action, :now, '{}')"),
                        {"id": uuid.uuid4(), "org": org.id, "wo": wo_id, "action": action,
                         "now": now},
                    )  # fmt: skip

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
                       "clients": args.clients, **results, "ratio": round(ratio, 3),
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
