"""Lists at the size of a real plant, against the same SQL run raw; the bulk create there.

Seeds a plant straight into a scratch database (bench/plant.py: one organisation of N work
orders, four years of them, and a second one of N/10), then times every list filter of
/work-orders and /production-orders, and combinations of them, through the whole
application in process (TestClient kept open: the HTTP stack, authentication, the use
case, the response body): the first page, and the next one by its cursor. Raw is the very
SQL the same request ran, every statement replayed with its parameters through the
database driver on a connection of its own, every row fetched: what the database does for
the page, without the application around it. Ours and raw take turns, `--repeat` (60) times a
case; p50 and p95 of each, and the ratio of the p50s. Then the bulk create of
bench/bulk_create.py, on the same tables.

    .venv/bin/python bench/api_scale.py                       # SQLite, 200,000 work orders
    .venv/bin/python bench/api_scale.py --database-url postgresql://postgres@127.0.0.1:5432/test

PostgreSQL defaults to 1,000,000 work orders, in a scratch database next to the one named,
dropped at the end (--keep keeps it and prints its URL; --seeded URL measures such a kept
one again without seeding). The machine's load average is printed before and after.
"""

import argparse
import json
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

import bulk_create
import plant
from taktline import serving
from taktline.app import create_app
from taktline.config import Settings
from taktline.db import create_db_engine

BUDGET_MS = 20.0


def p95(runs: Sequence[float]) -> float:
    ordered = sorted(runs)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- the cases -----------------------------------------------------------------------------


def cases(p: plant.Plant) -> dict[str, str]:
    """Every filter of both lists and combinations of them, as request paths."""
    m = p.main

    def at(days: float) -> str:
        return (p.now + timedelta(days=days)).isoformat()

    def wo(**params: Any) -> str:
        return "/api/v1/work-orders?" + urlencode(params, doseq=True)

    def po(**params: Any) -> str:
        return "/api/v1/production-orders?" + urlencode(params, doseq=True)

    week = {"planned_from": at(-3), "planned_to": at(4)}
    kombucha = next(n for n in m.item_names if "Ginger Kombucha" in n).rsplit(" ", 2)[0]
    return {
        "wo: no filter": wo(),
        "wo: state=DRAFT": wo(state="DRAFT"),
        "wo: state=COMPLETED": wo(state="COMPLETED"),
        "wo: state=SCHEDULED&IN_PROCESS": wo(state=["SCHEDULED", "IN_PROCESS"]),
        "wo: state=DELETED": wo(state="DELETED"),
        "wo: production_order_id": wo(production_order_id=str(p.sample_order)),
        "wo: resource_id": wo(resource_id=str(m.resources[7])),
        "wo: item_id": wo(item_id=str(m.items[42])),
        "wo: planned window, a day ahead": wo(planned_from=at(1), planned_to=at(2)),
        "wo: planned window, this week": wo(**week),
        "wo: planned window, a week a year ago": wo(planned_from=at(-365), planned_to=at(-358)),
        "wo: planned window, a week 4 years ago": wo(planned_from=at(-1400), planned_to=at(-1393)),
        "wo: planned_from=now": wo(planned_from=at(0)),
        "wo: planned_to=3 years ago": wo(planned_to=at(-1095)),
        "wo: due_before=now": wo(due_before=at(0)),
        "wo: due_before=3.5 years ago": wo(due_before=at(-1280)),
        "wo: state=SCHEDULED&due_before=now": wo(state="SCHEDULED", due_before=at(0)),
        "wo: state=IN_PROCESS&resource_id": wo(state="IN_PROCESS", resource_id=str(m.resources[3])),
        "wo: state=SCHEDULED&resource_id&window": wo(
            state="SCHEDULED", resource_id=str(m.resources[3]), **week
        ),
        "wo: item_id&state=COMPLETED": wo(item_id=str(m.items[42]), state="COMPLETED"),
        "wo: item_id&due_before=1 year ago": wo(item_id=str(m.items[42]), due_before=at(-365)),
        "wo: production_order_id&state=COMPLETED": wo(
            production_order_id=str(p.sample_order), state="COMPLETED"
        ),
        "wo: state=DRAFT&item_id&resource_id": wo(
            state="DRAFT", item_id=str(m.items[42]), resource_id=str(m.resources[3])
        ),
        "wo: q=a number": wo(q=p.sample_number),
        "wo: q=the start of a number, any case": wo(q=p.sample_number[:-1].lower()),
        "wo: q=digits alone (4321)": wo(q="4321"),
        "wo: q=a SKU": wo(q="SKU-00042"),
        f"wo: q={kombucha} (5 items)": wo(q=kombucha),
        "wo: q=Kombucha (100 items)": wo(q="Kombucha"),
        "wo: q=matching nothing": wo(q="zzz"),
        "wo: state=DRAFT&q=Kombucha": wo(state="DRAFT", q="Kombucha"),
        "wo: q=Kombucha&window": wo(q="Kombucha", **week),
        "po: no filter": po(),
        "po: state=COMPLETED": po(state="COMPLETED"),
        "po: state=DRAFT&SCHEDULED": po(state=["DRAFT", "SCHEDULED"]),
        "po: owner_id": po(owner_id=str(m.customers[7])),
        "po: owner_id&state=IN_PROCESS": po(owner_id=str(m.customers[7]), state="IN_PROCESS"),
        "po: due_before=1 year ago": po(due_before=at(-365)),
        "po: state=SCHEDULED&due_before=now": po(state="SCHEDULED", due_before=at(14)),
        "po: q=a number": po(q=p.sample_order_number),
        "po: q=a reference": po(q=p.sample_reference),
        f"po: q={kombucha}": po(q=kombucha),
        "po: q=matching nothing": po(q="zzz"),
    }


# --- ours and raw --------------------------------------------------------------------------


@dataclass
class Captured:
    """The statements of one request, as the driver got them."""

    statements: list[tuple[str, Any]] = field(default_factory=list)


@contextmanager
def capturing(engine: Engine) -> Iterator[Captured]:
    captured = Captured()

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield captured
    finally:
        event.remove(engine, "before_cursor_execute", before)


def replay(raw: Any, sqlite: bool, statements: Sequence[tuple[str, Any]]) -> Callable[[], int]:
    """The statements run raw on the driver connection `raw`, each row fetched; then the
    transaction rolled back, as the request's session does."""
    db: Any = raw.driver_connection

    def run() -> int:
        cur = db.cursor()
        n = 0
        for statement, parameters in statements:
            cur.execute(statement, parameters)
            if cur.description is not None:
                n += len(cur.fetchall())
        if sqlite:
            if db.in_transaction:
                cur.execute("ROLLBACK")
        else:
            db.rollback()
        return n

    return run


@dataclass
class Case:
    name: str
    page: str
    path: str
    rows: int
    statements: int
    raw: Callable[[], int]
    ours_ms: list[float] = field(default_factory=list)
    raw_ms: list[float] = field(default_factory=list)


def prepare(
    client: TestClient, headers: dict[str, str], engine: Engine, raw: Any, name: str, path: str
) -> list[Case]:
    """The case's first page and the next one, each with its statements captured."""
    out = []
    for page in ("first", "next"):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text[:300])
        with capturing(engine) as captured:
            response = client.get(path, headers=headers)
        body = response.json()
        # The SQLite engine's BEGIN is a statement too; a cached token is not looked up again.
        out.append(
            Case(
                name,
                page,
                path,
                len(body["items"]),
                len(captured.statements),
                replay(raw, engine.dialect.name == "sqlite", captured.statements),
            )
        )
        if not body["next_cursor"]:
            break
        path = f"{path}&cursor={body['next_cursor']}"
    return out


def measure_lists(
    client: TestClient,
    token: str,
    engine: Engine,
    raw: Any,
    p: plant.Plant,
    repeat: int,
    only: str | None = None,
) -> list[Case]:
    """Ours and raw in turns for every case, `repeat` times; raw on the driver connection
    `raw`, of an engine of its own."""
    headers = {"Authorization": f"Bearer {token}"}
    all_cases = [
        case
        for name, path in cases(p).items()
        if only is None or only in name
        for case in prepare(client, headers, engine, raw, name, path)
    ]
    for r in range(repeat):
        for case in all_cases:

            def ours(path: str = case.path) -> None:
                client.get(path, headers=headers)

            steps: list[tuple[list[float], Callable[[], Any]]] = [
                (case.ours_ms, ours),
                (case.raw_ms, case.raw),
            ]
            for runs, step in steps if r % 2 == 0 else reversed(steps):
                t0 = time.perf_counter()
                step()
                runs.append((time.perf_counter() - t0) * 1000)
    return all_cases


def report(all_cases: Sequence[Case]) -> list[dict[str, Any]]:
    print(
        f"{'case':<46} {'page':<5} {'rows':>4} {'SQL':>3}  {'ours p50':>8} {'p95':>6}  "
        f"{'raw p50':>7} {'p95':>6}  {'ratio':>5}"
    )
    out: list[dict[str, Any]] = []
    for c in all_cases:
        row: dict[str, Any] = {
            "case": c.name,
            "page": c.page,
            "rows": c.rows,
            "statements": c.statements,
            "ours_p50_ms": round(statistics.median(c.ours_ms), 2),
            "ours_p95_ms": round(p95(c.ours_ms), 2),
            "raw_p50_ms": round(statistics.median(c.raw_ms), 2),
            "raw_p95_ms": round(p95(c.raw_ms), 2),
        }
        row["ratio"] = round(row["ours_p50_ms"] / max(row["raw_p50_ms"], 0.01), 1)
        out.append(row)
        flag = "  OVER" if row["ours_p95_ms"] > BUDGET_MS else ""
        print(
            f"{c.name[:46]:<46} {c.page:<5} {c.rows:>4} {c.statements:>3}  "
            f"{row['ours_p50_ms']:>8.1f} {row['ours_p95_ms']:>6.1f}  "
            f"{row['raw_p50_ms']:>7.2f} {row['raw_p95_ms']:>6.2f}  {row['ratio']:>5.1f}{flag}",
            flush=True,
        )
    if not out:
        return out
    over = [r for r in out if r["ours_p95_ms"] > BUDGET_MS]
    worst = max(out, key=lambda r: r["ours_p95_ms"])
    print(
        f"{len(out)} pages: ours p50 {min(r['ours_p50_ms'] for r in out):.1f}-"
        f"{max(r['ours_p50_ms'] for r in out):.1f} ms, p95 at most {worst['ours_p95_ms']:.1f} ms "
        f"({worst['case']}, {worst['page']}); {len(over)} over {BUDGET_MS:.0f} ms p95",
        flush=True,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--work-orders", type=int, default=None)
    parser.add_argument("--other", type=int, default=None, help="work orders of the second")
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--bulk-repeat", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--seeded", default=None, help="a database kept with --keep")
    parser.add_argument("--json", default=None)
    parser.add_argument("--only", default=None, help="only the cases whose name has this")
    args = parser.parse_args()
    postgres = (args.seeded or args.database_url or "").startswith("postgresql")
    n = args.work_orders or (1_000_000 if postgres else 200_000)
    print(f"load average before: {load()}", flush=True)
    results: dict[str, Any] = {"load_before": load()}
    with seeded(args, n) as p:
        results["work_orders"] = p.main.work_orders
        results["other_work_orders"] = p.other.work_orders
        app = create_app(Settings(database_url=p.url))
        engine = app.state.engine
        raw_engine = create_db_engine(p.url)
        raw = raw_engine.raw_connection()
        with TestClient(app) as client:
            serving.tune_collector()  # as a server process does
            t0 = time.perf_counter()
            all_cases = measure_lists(client, p.main.token, engine, raw, p, args.repeat, args.only)
            print(f"lists measured in {time.perf_counter() - t0:.0f} s; load average {load()}")
            results["lists"] = report(all_cases)
            raw.close()
            raw_engine.dispose()
            if args.bulk_repeat:
                user = plant.planner_of(app.state.session_factory, p.main)
                results["bulk"] = bulk_create.measure(
                    client, p.main.token, engine, p.main, user, args.bulk_repeat
                )
        engine.dispose()
    results["load_after"] = load()
    print(f"load average after: {load()}", flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)


@contextmanager
def seeded(args: argparse.Namespace, n: int) -> Iterator[plant.Plant]:
    if args.seeded:
        p = plant.discover(args.seeded)
        yield p
        return
    with plant.scratch_database(args.database_url, keep=args.keep) as url:
        t0 = time.perf_counter()
        p = plant.seed(url, n, other=args.other)
        print(f"seeded in {time.perf_counter() - t0:.0f} s", flush=True)
        if args.keep:
            print(f"kept: --seeded {url}", flush=True)
        yield p


if __name__ == "__main__":
    main()
