"""The rules of stock, without a database: QA's lifecycle of a lot, which lots a work order
may take and in which order, what a movement may do to a balance, the code and expiry of a
new lot, reconciliation, and who waits for a short material."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from taktline.inventory.kinds import EntryKind, LotStatus
from taktline.inventory.rules import (
    Balance,
    Candidate,
    Need,
    Supply,
    balance_refusal,
    entry_is_signed_right,
    expiry,
    lot_code,
    lot_code_pattern_problem,
    lot_refusal,
    pick,
    pick_order,
    reconcile,
    status_actions,
    status_after,
    status_refusal,
    waiting,
)
from taktline.items.kinds import AllocationStrategy

DAY = datetime(2026, 12, 1, tzinfo=UTC)
OURS, THEIRS = uuid.uuid4(), uuid.uuid4()


def lot(
    code: str,
    *,
    expires: int | None = None,
    made: int = 0,
    available: str = "10",
    status: LotStatus = LotStatus.AVAILABLE,
    owner: uuid.UUID | None = None,
) -> Candidate:
    return Candidate(
        uuid.uuid4(),
        code,
        status,
        owner,
        DAY + timedelta(days=expires) if expires is not None else None,
        DAY + timedelta(days=made),
        Decimal(available),
    )


def codes(lots: list[Candidate]) -> list[str | None]:
    return [lot.code for lot in lots]


def test_qa_releases_quarantined_and_held_lots_and_holds_or_rejects_with_a_reason() -> None:
    assert status_actions(LotStatus.QUARANTINE) == ["release", "hold", "reject"]
    assert status_actions(LotStatus.AVAILABLE) == ["hold", "reject"]
    assert status_actions(LotStatus.HOLD) == ["release", "reject"]
    assert status_actions(LotStatus.REJECTED) == []
    assert status_actions(LotStatus.DEPLETED) == []
    assert status_refusal("release", LotStatus.QUARANTINE, "L1") is None
    refusal = status_refusal("release", LotStatus.REJECTED, "L1")
    assert refusal == "Lot L1 is REJECTED; it cannot be released. Allowed now: none."


def test_a_tracked_lot_is_depleted_when_empty_and_available_again_when_stock_returns() -> None:
    assert status_after(LotStatus.AVAILABLE, Decimal(0), tracked=True) is LotStatus.DEPLETED
    assert status_after(LotStatus.DEPLETED, Decimal(1), tracked=True) is LotStatus.AVAILABLE
    assert status_after(LotStatus.HOLD, Decimal(0), tracked=True) is LotStatus.HOLD
    assert status_after(LotStatus.AVAILABLE, Decimal(0), tracked=False) is LotStatus.AVAILABLE


def test_a_movement_never_takes_on_hand_below_zero_or_below_what_is_allocated() -> None:
    before = Balance(Decimal(10), Decimal(4))
    assert balance_refusal("L1", "ea", before, Balance(Decimal(6), Decimal(4))) is None
    assert balance_refusal("L1", "ea", before, Balance(Decimal(-1), Decimal(4))) == (
        "Lot L1 has 10 ea on hand; 11 ea cannot be taken from it."
    )
    assert balance_refusal("L1", "ea", before, Balance(Decimal(10), Decimal(11))) == (
        "Lot L1 has 10 ea on hand, of which 4 ea is allocated: 6 ea is available."
    )
    assert balance_refusal(None, "ea", before, Balance(Decimal(3), Decimal(4))) is not None


@pytest.mark.parametrize(
    ("kind", "on_hand", "allocated", "right"),
    [
        (EntryKind.RECEIVE, 5, 0, True),
        (EntryKind.RECEIVE, -5, 0, False),
        (EntryKind.ALLOCATE, 0, 5, True),
        (EntryKind.ALLOCATE, -5, 5, False),
        (EntryKind.RELEASE, 0, -5, True),
        (EntryKind.PULL, -5, -5, True),
        (EntryKind.PULL, -5, 0, True),
        (EntryKind.PULL, -5, 5, False),
        (EntryKind.SCRAP, -5, 0, True),
        (EntryKind.ADJUST, 5, 0, True),
        (EntryKind.ADJUST, -5, 0, True),
        (EntryKind.PRODUCE, -5, 0, True),
    ],
)
def test_each_kind_of_entry_moves_its_balances_one_way(
    kind: EntryKind, on_hand: int, allocated: int, right: bool
) -> None:
    assert entry_is_signed_right(kind, Decimal(on_hand), Decimal(allocated)) is right


def test_fefo_takes_the_earliest_expiry_first_and_lots_that_never_expire_last() -> None:
    lots = [lot("NEVER"), lot("LATE", expires=90), lot("SOON", expires=10, made=5)]
    assert codes(pick_order(AllocationStrategy.FEFO, lots)) == ["SOON", "LATE", "NEVER"]


def test_fifo_takes_the_earliest_received_first() -> None:
    lots = [lot("NEW", made=3, expires=10), lot("OLD", made=1, expires=90)]
    assert codes(pick_order(AllocationStrategy.FIFO, lots)) == ["OLD", "NEW"]


def test_a_pick_takes_each_lot_as_far_as_it_goes_and_leaves_the_rest_short() -> None:
    lots = [lot("A", expires=10, available="4"), lot("B", expires=20, available="5")]
    taken = pick(AllocationStrategy.FEFO, lots, Decimal(12), None, None)
    assert [(c.code, q) for c, q in taken] == [("A", Decimal(4)), ("B", Decimal(5))]


def test_a_work_order_takes_only_available_lots_of_its_owner_that_outlast_it() -> None:
    ends = DAY + timedelta(days=30)
    assert lot_refusal(lot("OK", expires=40), ends, None) is None
    assert lot_refusal(lot("MINE", owner=OURS), ends, OURS) is None
    assert "another customer" in (lot_refusal(lot("X", owner=THEIRS), ends, OURS) or "")
    assert "another customer" in (lot_refusal(lot("X", owner=THEIRS), ends, None) or "")
    assert "before the work order ends" in (lot_refusal(lot("X", expires=20), ends, None) or "")
    held = lot("X", status=LotStatus.QUARANTINE)
    assert "only AVAILABLE" in (lot_refusal(held, ends, None) or "")
    lots = [lot("THEIRS", owner=THEIRS, expires=1), lot("OLD", expires=5), lot("OURS", expires=60)]
    taken = pick(AllocationStrategy.FEFO, lots, Decimal(100), ends, OURS)
    assert [c.code for c, _ in taken] == ["OURS"]


def test_a_new_lots_code_follows_the_pattern_and_its_expiry_the_shelf_life() -> None:
    assert lot_code("{sku}-{yyddd}-{n}", "AJ-16", DAY, 3) == "AJ-16-26335-3"
    assert lot_code("L{yyyymmdd}/{n}", "X", DAY, 12) == "L20261201/12"
    assert expiry(DAY, 30) == DAY + timedelta(days=30)
    assert expiry(DAY, None) is None
    assert lot_code_pattern_problem("{sku}-{n}") is None
    assert "needs {n}" in (lot_code_pattern_problem("{sku}") or "")
    assert "{week} is not a field" in (lot_code_pattern_problem("{week}-{n}") or "")


def test_reconciliation_scales_the_requirement_to_what_was_made() -> None:
    check = reconcile(
        Decimal(100), Decimal(200), Decimal(150), Decimal(80), tolerance_percent=Decimal(5)
    )
    assert check.expected == 75
    assert check.variance == 5
    assert check.variance_percent == Decimal("6.67")
    assert check.flagged
    within = reconcile(Decimal(100), Decimal(100), Decimal(100), Decimal(101), Decimal(2))
    assert not within.flagged


def test_the_work_that_needs_a_short_material_latest_waits_for_it() -> None:
    def need(number: str, day: int, required: str) -> Need:
        return Need(uuid.uuid4(), number, DAY + timedelta(days=day), Decimal(required),
                    Decimal(0), Decimal(0))  # fmt: skip

    needs = [need("WO-3", 3, "50"), need("WO-1", 1, "50"), need("WO-2", 2, "50")]
    assert [(n.work_order_number, q) for n, q in waiting(needs, Decimal(70))] == [
        ("WO-2", Decimal(30)),
        ("WO-3", Decimal(50)),
    ]
    assert waiting(needs, Decimal(150)) == []


def test_what_open_work_will_make_covers_the_needs_after_its_planned_end() -> None:
    def need(number: str, day: int) -> Need:
        return Need(uuid.uuid4(), number, DAY + timedelta(days=day), Decimal(50),
                    Decimal(0), Decimal(0))  # fmt: skip

    needs = [need("WO-1", 1), need("WO-3", 3)]
    batch = Supply(DAY + timedelta(days=2), Decimal(60))
    unplanned = Supply(None, Decimal(500))
    assert [(n.work_order_number, q) for n, q in waiting(needs, Decimal(10), [batch])] == [
        ("WO-1", Decimal(40)),
    ]
    assert [n.work_order_number for n, _ in waiting(needs, Decimal(0), [unplanned])] == [
        "WO-1",
        "WO-3",
    ]
