"""`taktline lots trace CODE [--forward]`, on both databases: the tree of a lot's genealogy,
each line with what flowed (a lot `used` by the work order beside it, a lot `made` by it),
down to the supplier and bill of lading, or up to the finished lots; a lot found by its
code, and by its item's SKU where codes are shared; unknown codes refused plainly."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from taktline import cli
from taktline.db import transaction
from taktline.inventory.kinds import LotOrigin
from taktline.inventory.models import Lot
from tests.factories import make_item
from tests.helpers import Tenant
from tests.inventory.test_exports import Juice, make_juice
from tests.inventory.test_trace import Genealogies, produce, pull, receive


@pytest.fixture
def juice(client: TestClient, tenant: Tenant) -> Juice:
    return make_juice(client, tenant)


@pytest.fixture
def run(database_url: str, tenant: Tenant) -> Callable[..., Result]:
    """`taktline lots trace ARGS... --org <the tenant>` on the test's database."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(
            cli.app,
            ["lots", "trace", *args, "--org", tenant.name],
            env={"TAKTLINE_DATABASE_URL": database_url, "COLUMNS": "200"},
        )

    return invoke


def lines(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [line.rstrip() for line in result.stdout.splitlines() if line.strip()]


def test_a_lot_is_traced_back_to_its_supplier_and_bill_of_lading(
    juice: Juice, run: Callable[..., Result]
) -> None:
    tree = lines(run("BTL-0001"))
    bottling, press = juice.work_orders["bottling"]["number"], juice.work_orders["press"]["number"]
    assert tree[0].startswith("BTL-0001 · BTL-AJ-16 16oz Apple Juice · AVAILABLE")
    assert "Healthy Juices Inc." in tree[0]
    # the work order that made it, then what it used, the juice's own maker below the juice
    assert [line.split(" · ")[0].strip("└├─│ ") for line in tree] == [
        "BTL-0001", bottling, "CAP-38", "GL-0412", "JUICE-1", press, "AJC-2611",
    ]  # fmt: skip
    assert f"{bottling} · made 1000 ea · work order for BTL-AJ-16" in tree[1]
    assert "JUICE-1 · used 125 gal" in tree[4]
    assert "AJC-2611 · used 180 gal" in tree[6]
    assert "from Orchard Fresh Co (their lot OF-7781), BOL-20417" in tree[6]
    depth = {line.split(" · ")[0].strip("└├─│ "): len(line) - len(line.lstrip("└├─│ "))
             for line in tree}  # fmt: skip
    assert depth["BTL-0001"] < depth[bottling] < depth["JUICE-1"] < depth[press]
    assert depth[press] < depth["AJC-2611"]


def test_forward_a_lot_is_traced_to_every_lot_made_from_it(
    juice: Juice, run: Callable[..., Result]
) -> None:
    tree = lines(run("AJC-2611", "--forward"))
    press, bottling = juice.work_orders["press"]["number"], juice.work_orders["bottling"]["number"]
    assert [line.split(" · ")[0].strip("└├─│ ") for line in tree] == [
        "AJC-2611", press, "JUICE-1", bottling, "BTL-0001",
    ]  # fmt: skip
    assert f"{press} · used 180 gal" in tree[1]
    assert "JUICE-1 · made 1000 gal" in tree[2]
    assert "BTL-0001 · made 1000 ea" in tree[4]


def test_a_code_two_items_share_needs_the_item(
    juice: Juice, run: Callable[..., Result], client: TestClient, tenant: Tenant
) -> None:
    other = make_item(client, tenant, sku="CONC-PEAR", type="RAW_MATERIAL")
    juice.stock.receive(other, "10", lot_code="AJC-2611")

    shared = run("AJC-2611")
    chosen = run("AJC-2611", "--item", "CONC-PEAR")

    assert shared.exit_code == 1
    assert "CONC-AJ, CONC-PEAR" in shared.output
    assert "give the item's SKU" in shared.output
    assert lines(chosen)[0].startswith("AJC-2611 · CONC-PEAR")


def test_an_unknown_code_is_refused_with_exit_code_1(
    juice: Juice, run: Callable[..., Result]
) -> None:
    result = run("NOPE-1")
    assert result.exit_code == 1
    assert "no lot has the code NOPE-1" in result.output
    wrong_item = run("JUICE-1", "--item", "CONC-AJ")
    assert wrong_item.exit_code == 1
    assert "no lot of item CONC-AJ has the code JUICE-1" in wrong_item.output


def test_a_lot_reached_by_two_paths_is_shown_in_full_once_and_a_cycle_ends(
    client: TestClient, session: Session, tenant: Tenant, run: Callable[..., Result]
) -> None:
    g = Genealogies(client, session, tenant)
    with transaction(session):
        start = g.lots(1, LotOrigin.RECEIVED)[0]
        left, right, final = g.lots(3)
        w1, w2, w3 = g.work_orders(3)
        g.post(
            [receive(start), pull(start, w1, 10), produce(left, w1, 100), pull(start, w2, 20),
             produce(right, w2, 100), pull(left, w3, 5), pull(right, w3, 5),
             produce(final, w3, 100), pull(final, w1, 1)]
        )  # fmt: skip
    codes = {
        lot.id: str(lot.code)
        for lot in session.scalars(select(Lot).where(Lot.id.in_([start, final])))
    }
    session.commit()

    tree = lines(run(codes[final]))

    repeated = [line for line in tree if "(shown above)" in line]
    assert sum(codes[start] in line for line in tree) == 2
    assert len(repeated) == 2  # the start lot the second time, and the final lot in the cycle
    assert any(codes[start] in line for line in repeated)
    assert any(codes[final] in line for line in repeated)
