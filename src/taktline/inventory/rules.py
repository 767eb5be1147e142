"""The rules of stock, as plain data and functions: a lot's status lifecycle, which lots a
work order may take and in which order (FEFO, FIFO), what a movement does to a lot's
balances, the code and expiry of a new lot, and a material's reconciliation. Nothing here
touches the web or the database."""

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from taktline.inventory.kinds import EntryKind, LotStatus
from taktline.items.kinds import AllocationStrategy

# --- a lot's status: QA and what follows from its balance ------------------------------------


@dataclass(frozen=True)
class StatusChange:
    action: str
    from_statuses: frozenset[LotStatus]
    to_status: LotStatus
    reason_required: bool


# QA's actions. DEPLETED is no action's: a lot is DEPLETED when nothing is left on hand
# (see `status_after`), and AVAILABLE again when stock comes back.
STATUS_CHANGES: dict[str, StatusChange] = {
    change.action: change
    for change in (
        StatusChange(
            "release", frozenset({LotStatus.QUARANTINE, LotStatus.HOLD}), LotStatus.AVAILABLE, False
        ),
        StatusChange(
            "hold", frozenset({LotStatus.QUARANTINE, LotStatus.AVAILABLE}), LotStatus.HOLD, True
        ),
        StatusChange(
            "reject",
            frozenset({LotStatus.QUARANTINE, LotStatus.AVAILABLE, LotStatus.HOLD}),
            LotStatus.REJECTED,
            True,
        ),
    )
}


def status_actions(status: LotStatus) -> list[str]:
    """The QA actions a lot in `status` allows, in the table's order."""
    return [c.action for c in STATUS_CHANGES.values() if status in c.from_statuses]


def status_refusal(action: str, status: LotStatus, code: str | None) -> str | None:
    """Why a lot in `status` may not take `action`, in the user's words; None if it may."""
    change = STATUS_CHANGES[action]
    if status in change.from_statuses:
        return None
    allowed = ", ".join(status_actions(status)) or "none"
    name = f"Lot {code}" if code else "The balance"
    return f"{name} is {status}; it cannot be {_past(action)}. Allowed now: {allowed}."


def _past(action: str) -> str:
    return {"release": "released", "hold": "put on hold", "reject": "rejected"}[action]


def status_after(status: LotStatus, on_hand: Decimal, tracked: bool) -> LotStatus:
    """A lot's status once its on-hand is `on_hand`: an AVAILABLE lot with nothing left is
    DEPLETED, a DEPLETED one that gets stock back is AVAILABLE; a balance of an item that is
    not lot-tracked is never DEPLETED."""
    if not tracked:
        return status
    if status is LotStatus.AVAILABLE and on_hand == 0:
        return LotStatus.DEPLETED
    if status is LotStatus.DEPLETED and on_hand > 0:
        return LotStatus.AVAILABLE
    return status


# --- balances --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    on_hand: Decimal
    allocated: Decimal

    @property
    def available(self) -> Decimal:
        """What may still be allocated: on hand, less what is reserved."""
        return self.on_hand - self.allocated


def balance_refusal(code: str | None, unit: str, before: Balance, after: Balance) -> str | None:
    """Why a movement from `before` to `after` may not happen (the numbers in words), or
    None: on hand never below zero, and never less than what is allocated."""
    name = f"Lot {code}" if code else "The balance"
    if after.on_hand < 0:
        return (
            f"{name} has {_q(before.on_hand)} {unit} on hand; "
            f"{_q(before.on_hand - after.on_hand)} {unit} cannot be taken from it."
        )
    if after.allocated < 0:
        return f"{name} has only {_q(before.allocated)} {unit} allocated to release."
    if after.allocated > after.on_hand:
        return (
            f"{name} has {_q(before.on_hand)} {unit} on hand, of which {_q(before.allocated)} "
            f"{unit} is allocated: {_q(before.available)} {unit} is available."
        )
    return None


def _q(value: Decimal) -> str:
    """A quantity as people write it: 1250, 12.5, never 1.25E+3."""
    return f"{value.normalize():f}"


# What each kind of entry may change: (on hand, allocated), each -1, 0, +1 or None (either
# sign). An entry out of these is a bug, refused before it is written.
ENTRY_SIGNS: dict[EntryKind, tuple[int | None, int | None]] = {
    EntryKind.RECEIVE: (1, 0),
    EntryKind.ADJUST: (None, 0),
    EntryKind.ALLOCATE: (0, 1),
    EntryKind.RELEASE: (0, -1),
    EntryKind.PULL: (-1, None),  # a pull consumes its reservation, if it had one
    EntryKind.RETURN: (1, 0),
    EntryKind.PRODUCE: (None, 0),  # negative: a produce undone by a reversed report
    EntryKind.SCRAP: (-1, 0),
}


def entry_is_signed_right(kind: EntryKind, on_hand: Decimal, allocated: Decimal) -> bool:
    want_on_hand, want_allocated = ENTRY_SIGNS[kind]
    if kind is EntryKind.PULL and allocated > 0:
        return False
    return _sign_fits(want_on_hand, on_hand) and _sign_fits(want_allocated, allocated)


def _sign_fits(want: int | None, value: Decimal) -> bool:
    if want is None:
        return True
    if want == 0:
        return value == 0
    return value * want > 0


# --- which lots a work order may take ------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A lot as allocation sees it."""

    id: uuid.UUID
    code: str | None
    status: LotStatus
    owner_id: uuid.UUID | None
    expires_at: datetime | None
    made_at: datetime
    available: Decimal


def may_take(lot: Candidate, needed_until: datetime | None, order_owner: uuid.UUID | None) -> bool:
    """Whether a work order may take this lot (`lot_refusal` says why not)."""
    return (
        lot.status is LotStatus.AVAILABLE
        and (lot.owner_id is None or lot.owner_id == order_owner)
        and (lot.expires_at is None or needed_until is None or lot.expires_at >= needed_until)
    )


def lot_refusal(
    lot: Candidate, needed_until: datetime | None, order_owner: uuid.UUID | None
) -> str | None:
    """Why a work order may not take this lot, or None: only AVAILABLE lots, that do not
    expire before the work order ends (`needed_until`), of the manufacturer's own or the
    order's owner's (never another customer's)."""
    if may_take(lot, needed_until, order_owner):
        return None
    name = f"Lot {lot.code}" if lot.code else "The balance"
    if lot.status is not LotStatus.AVAILABLE:
        return f"{name} is {lot.status}; only AVAILABLE lots may be used."
    if lot.owner_id is not None and lot.owner_id != order_owner:
        return f"{name} belongs to another customer; it may go only into that customer's orders."
    if lot.expires_at is not None and needed_until is not None and lot.expires_at < needed_until:
        return (
            f"{name} expires at {lot.expires_at.isoformat()}, before the work order ends "
            f"({needed_until.isoformat()})."
        )
    return None


def pick_order(strategy: AllocationStrategy, lots: Iterable[Candidate]) -> list[Candidate]:
    """The lots in the order an automatic allocation takes them. FEFO: the earliest expiry
    first (lots that never expire last); FIFO: the earliest received or made first. Ties go
    to the earlier lot, then the code, so that the pick is the same every time."""

    def expiry(lot: Candidate) -> tuple[bool, datetime]:
        return (lot.expires_at is None, lot.expires_at or lot.made_at)

    if strategy is AllocationStrategy.FEFO:
        return sorted(lots, key=lambda lot: (expiry(lot), lot.made_at, lot.code or "", lot.id))
    return sorted(lots, key=lambda lot: (lot.made_at, expiry(lot), lot.code or "", lot.id))


class StockPool:
    """One item's lots in the strategy's order, and what is left of each as needs take from
    them in turn: the lots are sorted once however many needs are picked (a week's work
    orders), and the used-up ones at the front are stepped over once."""

    def __init__(self, strategy: AllocationStrategy, lots: Iterable[Candidate]) -> None:
        self.lots = pick_order(strategy, lots)
        self.left = [lot.available for lot in self.lots]
        self.first = 0

    def take(
        self, wanted: Decimal, needed_until: datetime | None, order_owner: uuid.UUID | None
    ) -> list[tuple[Candidate, Decimal]]:
        """The lots a need of `wanted` takes, each as far as what is left of it goes, until
        nothing more is wanted; less than wanted when stock is short (the rest is short)."""
        while self.first < len(self.lots) and self.left[self.first] <= 0:
            self.first += 1
        taken: list[tuple[Candidate, Decimal]] = []
        for i in range(self.first, len(self.lots)):
            if wanted <= 0:
                break
            lot = self.lots[i]
            if self.left[i] <= 0 or not may_take(lot, needed_until, order_owner):
                continue
            quantity = min(self.left[i], wanted)
            self.left[i] -= quantity
            wanted -= quantity
            taken.append((lot, quantity))
        return taken


def pick(
    strategy: AllocationStrategy,
    lots: Iterable[Candidate],
    wanted: Decimal,
    needed_until: datetime | None,
    order_owner: uuid.UUID | None,
) -> list[tuple[Candidate, Decimal]]:
    """What an automatic allocation takes for one need (see `StockPool`)."""
    return StockPool(strategy, lots).take(wanted, needed_until, order_owner)


# --- new lots ------------------------------------------------------------------------------

_FIELD = re.compile(r"\{([a-z]+)\}")
LOT_CODE_FIELDS = {
    "sku": "the item's SKU",
    "yyddd": "the year and day of the year (26335)",
    "yyyymmdd": "the date (20261201)",
    "n": "a number counting up per item and day",
}


def lot_code_pattern_problem(pattern: str) -> str | None:
    """Why a lot code pattern cannot be used, or None."""
    unknown = [name for name in _FIELD.findall(pattern) if name not in LOT_CODE_FIELDS]
    if unknown:
        known = ", ".join("{" + name + "}" for name in LOT_CODE_FIELDS)
        return f"{{{unknown[0]}}} is not a field of lot codes; the fields are {known}"
    if "{n}" not in pattern:
        return "a lot code pattern needs {n}, so that two lots of one day differ"
    return None


def lot_code(pattern: str, sku: str, day: datetime, n: int) -> str:
    """A new lot's code by the organisation's pattern, `{sku}-{yyddd}-{n}` by default."""
    values = {
        "sku": sku,
        "yyddd": f"{day:%y}{day.timetuple().tm_yday:03d}",
        "yyyymmdd": f"{day:%Y%m%d}",
        "n": str(n),
    }
    return _FIELD.sub(lambda m: values[m.group(1)], pattern)


def expiry(made_at: datetime, shelf_life_days: int | None) -> datetime | None:
    """When a lot made (or received) at `made_at` expires, from its item's shelf life."""
    if shelf_life_days is None:
        return None
    return made_at + timedelta(days=shelf_life_days)


# --- reconciliation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Reconciliation:
    """A material of a completed work order: what its BOM expects for what was made,
    against what was pulled."""

    expected: Decimal
    pulled: Decimal
    variance: Decimal
    variance_percent: Decimal | None
    flagged: bool


def reconcile(
    required: Decimal,
    planned: Decimal,
    produced: Decimal,
    pulled: Decimal,
    tolerance_percent: Decimal,
) -> Reconciliation:
    """The requirement scaled to the quantity produced is what was expected; the variance
    is pulled less expected, flagged beyond the tolerance (either way)."""
    expected = required * produced / planned if planned else Decimal(0)
    expected = expected.quantize(Decimal("0.000001"))
    variance = pulled - expected
    percent = (variance * 100 / expected).quantize(Decimal("0.01")) if expected else None
    flagged = abs(percent) > tolerance_percent if percent is not None else pulled > 0
    return Reconciliation(expected, pulled, variance, percent, flagged)


def yield_percent(produced: Decimal, planned: Decimal) -> Decimal | None:
    """Produced over planned, in percent."""
    if not planned:
        return None
    return (produced * 100 / planned).quantize(Decimal("0.01"))


# --- shortages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """A material of an open work order, as shortages see it."""

    work_order_id: uuid.UUID
    work_order_number: str
    needed_at: datetime | None
    required: Decimal
    allocated: Decimal
    pulled: Decimal

    @property
    def open(self) -> Decimal:
        """What is still to be found: required, less what is allocated or already pulled."""
        return max(self.required - self.allocated - self.pulled, Decimal(0))


@dataclass(frozen=True)
class Supply:
    """What open work will make of an item, and when (its planned end; None: not planned)."""

    at: datetime | None
    quantity: Decimal


def waiting(
    needs: Sequence[Need], available: Decimal, supplies: Sequence[Supply] = ()
) -> list[tuple[Need, Decimal]]:
    """The work orders (by when they need the material) that stock does not cover, once the
    ones before them took theirs, each with how much it lacks. Stock is what is available
    now and, from its planned end, what open work will make of the item (work in progress:
    juice for the bottling); a supply that is not planned covers nothing."""
    coming = sorted((s for s in supplies if s.at is not None), key=lambda s: s.at or _EPOCH)
    left = available
    next_supply = 0
    short: list[tuple[Need, Decimal]] = []
    for need in sorted(
        needs, key=lambda n: (n.needed_at is None, n.needed_at, n.work_order_number)
    ):
        while next_supply < len(coming) and (
            need.needed_at is None or (coming[next_supply].at or _EPOCH) <= need.needed_at
        ):
            left += coming[next_supply].quantity
            next_supply += 1
        lacking = max(need.open - left, Decimal(0))
        left = max(left - need.open, Decimal(0))
        if lacking > 0:
            short.append((need, lacking))
    return short


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def first_to_wait(
    needs: Sequence[Need], available: Decimal, supplies: Sequence[Supply] = ()
) -> Need | None:
    """The first work order that will wait for the material (see `waiting`)."""
    found = waiting(needs, available, supplies)
    return found[0][0] if found else None
