"""The pure rules of what a line item may report (taktline.orders.quantities), without a
database: what can reach each line item, the tolerance, reversals, what was produced."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from taktline.orders.quantities import LineItemCount, produced, reaching, report_refusal

D = Decimal


def line(seq: int, completed: str = "0", scrapped: str = "0", skipped: bool = False):
    return LineItemCount(seq, f"Op {seq}", skipped, D(completed), D(scrapped))


def test_what_reaches_a_line_item_is_what_the_last_one_not_skipped_completed() -> None:
    lines = [line(1, "90"), line(2, "0", skipped=True), line(3, "40")]
    assert reaching(lines, 0, D(100)) == 100
    assert reaching(lines, 1, D(100)) == 90
    assert reaching(lines, 2, D(100)) == 90


def test_the_first_report_over_the_work_orders_quantity_is_refused_with_the_numbers() -> None:
    why = report_refusal([line(1), line(2)], 0, D(4000), D(0), D(99_999_999), D(0))
    assert why is not None
    assert "99,999,999" in why
    assert "the work order is for 4,000" in why


def test_the_tolerance_lets_a_little_more_through() -> None:
    lines = [line(1, "11950"), line(2)]
    assert report_refusal(lines, 1, D(12000), D(0), D(11950), D(0)) is None
    assert report_refusal(lines, 1, D(12000), D(0), D(15000), D(0)) is not None
    assert report_refusal(lines, 1, D(12000), D(2), D(12189), D(0)) is None
    assert report_refusal(lines, 1, D(12000), D(2), D(12190), D(0)) is not None


def test_a_reversal_never_goes_below_zero_nor_under_what_the_next_line_item_used() -> None:
    lines = [line(1, "100"), line(2, "90")]
    assert report_refusal(lines, 0, D(100), D(0), D(-101), D(0)) is not None
    why = report_refusal(lines, 0, D(100), D(0), D(-20), D(0))
    assert why is not None
    assert "correct line item 2 first" in why
    assert report_refusal(lines, 0, D(100), D(0), D(-10), D(0)) is None
    assert report_refusal(lines, 1, D(100), D(0), D(-90), D(0)) is None


@given(
    st.lists(
        st.tuples(st.integers(0, 500), st.integers(0, 50), st.booleans()), min_size=1, max_size=5
    )
)
def test_produced_is_the_last_line_item_not_skipped_and_scrap_adds_up(rows) -> None:
    lines = [line(i, str(c), str(s), skipped) for i, (c, s, skipped) in enumerate(rows, 1)]
    made, scrapped = produced(lines)
    counted = [li for li in lines if not li.skipped]
    assert made == (counted[-1].completed if counted else 0)
    assert scrapped == sum(li.scrapped for li in lines)
