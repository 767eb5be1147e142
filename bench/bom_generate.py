"""Generating a production order's work orders from a three-level bill of material.

The plant: apple juice (FORMULA: pressing, blending, pasteurising on tanks of 77 gal a
run), 16oz bottles (PACKAGING: 0.125 gal of juice + 2 % loss, a bottle, a cap, a label;
bottling on a line of 75 gal = 600 bottles a run, labeling, inspecting) and cases of 24
(SECONDARY_PACKAGING: a carton and 24 bottles; erecting, casing, palletising on a packer of
25 cases a run). A production order of 4,167 cases (100,008 bottles) is generated into
about 500 work orders of 3 line items each, with their dependencies and materials.

Ours is POST /production-orders/{id}/generate through the whole application in process
(TestClient: authentication, loading the BOMs level by level, the explosion, the bulk
insert of work orders, line items, dependencies, materials and events, the answer with every
work order). Raw is the very rows ours wrote for the order before, copied under new ids
onto another production order by hand through the driver (executemany, one transaction, the
numbers reserved as the application reserves them). They take turns, `--repeat` times; p50
and p95 of each, and the ratio of the p50s (aim: at most 3).

    .venv/bin/python bench/bom_generate.py
    .venv/bin/python bench/bom_generate.py --database-url postgresql://postgres@127.0.0.1:5432/test
"""

import statistics
import time
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

import plant
from taktline.db import new_id

API = "/api/v1"
CASES = 4167
# The tables generation writes, and the column that ties their rows to the order.
WRITTEN = (
    ("work_orders", "production_order_id"),
    ("work_order_line_items", None),
    ("work_order_dependencies", None),
    ("work_order_materials", None),
    ("events", "parent_id"),
)


def setup(client: TestClient, headers: dict[str, str]) -> str:
    """The plant and its three BOMs, active; returns the case's item id."""

    def post(path: str, body: dict[str, Any]) -> Any:
        response = client.post(f"{API}{path}", json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    facility = post("/facilities", {"name": "Bench Plant", "timezone": "UTC"})

    def resource(code: str, most: str | None, unit: str | None) -> str:
        body = {"code": code, "name": code, "kind": "MACHINE", "facility_id": facility["id"]}
        if most is not None:
            body.update(capacity_min="0", capacity_max=most, capacity_unit=unit)
        return str(post("/resources", body)["id"])

    tank = resource("TANK", "77", "gal")
    line = resource("LINE", "75", "gal")
    packer = resource("PACKER", "25", "case")
    helpers = [
        resource(code, None, None)
        for code in ("BLEND", "PAST", "LABEL", "INSPECT", "ERECT", "PALLET")
    ]

    def item(sku: str, unit: str, precision: int, **more: Any) -> str:
        return str(
            post("/items", {"sku": sku, "name": sku, "unit": unit, "precision": precision, **more})[
                "id"
            ]
        )

    concentrate = item("CONC", "gal", 3, type="RAW_MATERIAL")
    water = item("WATER", "gal", 3, type="RAW_MATERIAL")
    juice = item("JUICE", "gal", 3, type="WORK_IN_PROGRESS")
    glass, cap, label, carton = (
        item(s, "ea", 0, type="RAW_MATERIAL") for s in ("GLASS", "CAP", "LABEL", "CARTON")
    )
    bottle = item(
        "BOTTLE", "ea", 0, conversions=[{"unit": "gal", "quantity": "0.125", "base_quantity": "1"}]
    )
    case = item("CASE24", "case", 0)

    def ops(*steps: tuple[str, str]) -> list[dict[str, Any]]:
        return [
            {
                "operation": name,
                "resource_id": rid,
                "setup_minutes": "15",
                "run_minutes_per_unit": "0.01",
            }
            for name, rid in steps
        ]

    boms = [
        ("JUICE", juice, "FORMULA", "1000", [(concentrate, "180", "0"), (water, "820", "0")],
         ops(("Pressing", tank), ("Blending", helpers[0]), ("Pasteurising", helpers[1]))),
        ("BOTTLE", bottle, "PACKAGING", "1",
         [(juice, "0.125", "2"), (glass, "1", "0"), (cap, "1", "0"), (label, "1", "0")],
         ops(("Bottling", line), ("Labeling", helpers[2]), ("Inspecting", helpers[3]))),
        ("CASE", case, "SECONDARY_PACKAGING", "1", [(carton, "1", "0"), (bottle, "24", "0")],
         ops(("Erecting", helpers[4]), ("Casing", packer), ("Palletising", helpers[5]))),
    ]  # fmt: skip
    for code, made, kind, batch, inputs, routing in boms:
        bom = post(
            "/boms",
            {
                "code": code,
                "name": code,
                "item_id": made,
                "type": kind,
                "version": {
                    "batch_quantity": batch,
                    "inputs": [
                        {"item_id": i, "quantity": q, "loss_percent": loss} for i, q, loss in inputs
                    ],
                    "operations": routing,
                },
            },
        )
        post(f"/boms/{bom['id']}/versions/1/activate", {})
    return case


class RawCopy:
    """The rows generation wrote for one order, read back untimed; written again, timed,
    under new ids onto another order, through the driver."""

    def __init__(self, engine: Engine, org: plant.Org) -> None:
        self.engine = engine
        self.org = org
        self.sqlite = engine.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"

    def read(self, po_id: str) -> dict[str, tuple[list[str], list[list[Any]]]]:
        raw = self.engine.raw_connection()
        try:
            cur: Any = raw.driver_connection.cursor()  # type: ignore[union-attr]
            po = uuid.UUID(po_id).hex if self.sqlite else uuid.UUID(po_id)
            m = self.mark
            cur.execute(f"SELECT id FROM work_orders WHERE production_order_id = {m}", (po,))
            wo_ids = [row[0] for row in cur.fetchall()]
            marks = ", ".join(m for _ in wo_ids)
            found: dict[str, tuple[list[str], list[list[Any]]]] = {}
            for table, by in WRITTEN:
                if by is not None:
                    where, params = f"{by} = {m}", [po]
                else:
                    where, params = f"work_order_id IN ({marks})", list(wo_ids)
                if table == "events":
                    where += f" AND action = {m}"
                    params.append("create")
                cur.execute(f"SELECT * FROM {table} WHERE {where}", params)
                columns = [d[0] for d in cur.description]
                found[table] = (columns, [list(r) for r in cur.fetchall()])
            return found
        finally:
            raw.close()

    def write(self, rows: dict[str, tuple[list[str], list[list[Any]]]], po_id: str) -> None:
        fresh: dict[Any, Any] = {}

        def new(old: Any) -> Any:
            if old not in fresh:
                fresh[old] = new_id().hex if self.sqlite else new_id()
            return fresh[old]

        from psycopg.types.json import Json

        po = uuid.UUID(po_id).hex if self.sqlite else uuid.UUID(po_id)
        org = self.org.id.hex if self.sqlite else self.org.id
        raw = self.engine.raw_connection()
        try:
            db: Any = raw.driver_connection
            cur = db.cursor()
            if self.sqlite:
                cur.execute("BEGIN IMMEDIATE")
            m = self.mark
            count = len(rows["work_orders"][1])
            cur.execute(
                f"UPDATE number_sequences SET last_value = last_value + {m} "
                f"WHERE org_id = {m} AND kind = {m} RETURNING last_value",
                (count, org, "work_order"),
            )
            last = int(cur.fetchone()[0])
            for table, _ in WRITTEN:
                columns, values = rows[table]
                out = []
                for k, row in enumerate(values):
                    copy = list(row)
                    for i, name in enumerate(columns):
                        if name in ("id", "work_order_id", "depends_on_id", "entity_id"):
                            copy[i] = new(row[i])
                        elif name in ("production_order_id", "parent_id"):
                            copy[i] = po
                        elif name == "number":
                            copy[i] = f"WO-{last - count + 1 + k:06d}"
                        elif isinstance(row[i], dict | list) and not self.sqlite:
                            copy[i] = Json(row[i])  # as it came: JSON
                    out.append(tuple(copy))
                names = ", ".join(columns)
                cur.executemany(
                    f"INSERT INTO {table} ({names}) VALUES ({', '.join(m for _ in columns)})", out
                )
            if self.sqlite:
                cur.execute("COMMIT")
            else:
                db.commit()
        finally:
            raw.close()


def measure(client: TestClient, org: plant.Org, engine: Engine, repeat: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {org.token}"}
    case = setup(client, headers)
    raw = RawCopy(engine, org)

    def order() -> str:
        response = client.post(
            f"{API}/production-orders",
            json={"items": [{"item_id": case, "quantity": str(CASES)}]},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    ours_ms: list[float] = []
    raw_ms: list[float] = []
    made = rows = None
    last_po = None
    for r in range(repeat + 1):
        ours_po, raw_po = order(), order()

        def ours(po: str = ours_po) -> None:
            nonlocal made, last_po
            response = client.post(f"{API}/production-orders/{po}/generate", headers=headers)
            assert response.status_code == 200, response.text[:500]
            made, last_po = response.json()["work_orders"], po

        def by_hand(po: str = raw_po, rows: Any = None) -> None:
            raw.write(rows, po)

        t0 = time.perf_counter()
        ours()
        if r:
            ours_ms.append((time.perf_counter() - t0) * 1000)
        rows = raw.read(last_po)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        by_hand(rows=rows)
        if r:
            raw_ms.append((time.perf_counter() - t0) * 1000)
    assert made is not None
    assert rows is not None
    counts = {table: len(rows[table][1]) for table, _ in WRITTEN}
    ours_p50, raw_p50 = statistics.median(ours_ms), statistics.median(raw_ms)
    result: dict[str, Any] = {
        "work_orders": len(made),
        "rows": counts,
        "ours_p50_ms": round(statistics.median(ours_ms), 1),
        "ours_p95_ms": round(plant.p95(ours_ms), 1),
        "raw_p50_ms": round(statistics.median(raw_ms), 1),
        "raw_p95_ms": round(plant.p95(raw_ms), 1),
    }
    result["ratio"] = round(ours_p50 / raw_p50, 2)
    print(
        f"generate {CASES} cases ({CASES * 24} bottles) into {len(made)} work orders "
        f"(rows: {counts}): ours p50 {result['ours_p50_ms']:.0f} ms p95 "
        f"{result['ours_p95_ms']:.0f} ms, raw insert of the same rows p50 "
        f"{result['raw_p50_ms']:.0f} ms p95 {result['raw_p95_ms']:.0f} ms, "
        f"ratio {result['ratio']:.2f}",
        flush=True,
    )
    return result


def main() -> None:
    plant.run_on_empty_plant(
        __doc__.split("\n")[0],
        lambda client, app, org, repeat: measure(client, org, app.state.engine, repeat),
    )


if __name__ == "__main__":
    main()
