"""What a line item may report, and what a work order has produced: pure rules.

Material flows down a work order's line items in sequence: the first can make at most the
work order's quantity, each next one at most what the one before it completed (a skipped
line item passes on what reached it). An organisation may allow some over-production, a
percentage on top (0 % unless it says otherwise). Reports add up; a mistaken one is undone
by a reversal, which subtracts it again, and may not take back what later line items have
already worked on.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class LineItemCount:
    sequence: int
    operation: str
    skipped: bool
    completed: Decimal
    scrapped: Decimal


def _number(value: Decimal) -> str:
    return f"{value.normalize():,f}"


def reaching(line_items: Sequence[LineItemCount], index: int, ordered: Decimal) -> Decimal:
    """How much can reach line item `index`: the work order's quantity for the first, what
    the last line item before it that was not skipped completed for the others."""
    for before in reversed(line_items[:index]):
        if not before.skipped:
            return before.completed
    return ordered


def _source(line_items: Sequence[LineItemCount], index: int) -> str:
    for before in reversed(line_items[:index]):
        if not before.skipped:
            return f"line item {before.sequence} ({before.operation}) completed"
    return "the work order is for"


def report_refusal(
    line_items: Sequence[LineItemCount],
    index: int,
    ordered: Decimal,
    tolerance_percent: Decimal,
    completed: Decimal,
    scrapped: Decimal,
) -> str | None:
    """Why adding `completed` and `scrapped` (negative for a reversal) to line item `index`
    is refused, with the numbers, or None when it may be recorded."""
    li = line_items[index]
    total_completed, total_scrapped = li.completed + completed, li.scrapped + scrapped
    if total_completed < ZERO or total_scrapped < ZERO:
        return (
            f"line item {li.sequence} ({li.operation}) has {_number(li.completed)} completed "
            f"and {_number(li.scrapped)} scrapped; it cannot go below zero"
        )
    reach = reaching(line_items, index, ordered)
    limit = reach * (HUNDRED + tolerance_percent) / HUNDRED
    total = total_completed + total_scrapped
    if (completed > ZERO or scrapped > ZERO) and total > limit:
        allowance = (
            f" plus the organisation's {_number(tolerance_percent)} % over-production tolerance"
            if tolerance_percent
            else ""
        )
        return (
            f"line item {li.sequence} ({li.operation}) would have {_number(total)} completed "
            f"and scrapped, more than the {_number(limit)} that can reach it "
            f"({_source(line_items, index)} {_number(reach)}{allowance})"
        )
    if completed < ZERO:
        for after in line_items[index + 1 :]:
            if after.skipped:
                continue
            worked = after.completed + after.scrapped
            after_limit = total_completed * (HUNDRED + tolerance_percent) / HUNDRED
            if worked > after_limit:
                return (
                    f"line item {after.sequence} ({after.operation}) has already worked on "
                    f"{_number(worked)}, more than the {_number(total_completed)} line item "
                    f"{li.sequence} ({li.operation}) would have completed; correct line item "
                    f"{after.sequence} first"
                )
            break
    return None


def output_index(line_items: Sequence[LineItemCount]) -> int | None:
    """Which line item's completed quantity is what the work order makes: its last that was
    not skipped (None when all were)."""
    counted = [i for i, li in enumerate(line_items) if not li.skipped]
    return counted[-1] if counted else None


def produced(line_items: Sequence[LineItemCount]) -> tuple[Decimal, Decimal]:
    """(produced, scrapped) of a work order: what its output line item (`output_index`)
    completed, and the scrap of all of them."""
    last = output_index(line_items)
    made = line_items[last].completed if last is not None else ZERO
    return made, sum((li.scrapped for li in line_items), ZERO)
