"""`taktline schedule`: a preview (or, with --apply, the applied schedule) of all open work,
with what it did while solving and a summary table; errors as one clear line."""

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from taktline import cli
from taktline.db import create_db_engine, create_session_factory
from taktline.events.models import Event
from taktline.orders.lifecycle import State
from taktline.orders.models import LineItem, WorkOrder
from tests.helpers import db_counts

START = "2030-01-07T06:00:00-06:00"  # a Monday morning in Chicago, the demo plant's zone


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def run(database: str) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli.app, list(args), env={"TAKTLINE_DATABASE_URL": database})

    return invoke


@pytest.fixture
def demo(run: Callable[..., Result]) -> None:
    result = run("demo")
    assert result.exit_code == 0, result.output


def _work_orders(database: str) -> list[tuple[str, State, int]]:
    engine = create_db_engine(database)
    try:
        with create_session_factory(engine)() as session:
            return [
                (wo.number, wo.state, wo.version)
                for wo in session.scalars(select(WorkOrder).order_by(WorkOrder.number))
            ]
    finally:
        engine.dispose()


def test_schedule_previews_and_prints_the_summary_table(
    run: Callable[..., Result], demo: None, database: str
) -> None:
    engine = create_db_engine(database)
    before = db_counts(engine)

    result = run("schedule", "--time-limit", "1", "--start", START)

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "a preview, nothing changes" in out
    # the progress: the demo's two juice batches (one line item each, on the press) and the
    # two bottling runs they feed (Bottling, Labeling, Casing)
    assert "Solving 4 work orders (8 line items) on 4 resources" in out
    assert "Schedule (preview: nothing changed)" in out
    for row in ("Work orders", "Line items", "Late", "Objective", "Value", "Bound", "Gap"):
        assert row in out
    for row in ("Method", "Time", "All work ends", "What moves"):
        assert row in out
    assert "weighted_tardiness" in out
    assert "WO-000001" in out
    assert "reschedule" in out
    assert db_counts(engine) == before
    engine.dispose()


def test_schedule_apply_applies_it(run: Callable[..., Result], demo: None, database: str) -> None:
    before = _work_orders(database)

    result = run(
        "schedule", "--apply", "--time-limit", "1", "--objective", "makespan", "--start", START
    )

    assert result.exit_code == 0, result.output
    assert "Schedule (applied)" in result.stdout
    assert "4 rescheduled" in result.stdout  # the demo's 4 work orders, all from 2030-01-07
    assert "makespan" in result.stdout
    after = _work_orders(database)
    assert [(n, s) for n, s, _ in after] == [(n, s) for n, s, _ in before]
    assert all(a[2] > b[2] for a, b in zip(after, before, strict=True))
    engine = create_db_engine(database)
    with create_session_factory(engine)() as session:
        assert "reschedule" in session.scalars(select(Event.action)).all()
        starts = [s for s in session.scalars(select(LineItem.planned_start)) if s is not None]
    engine.dispose()
    # from the start given: the first juice batch at 06:00 in Chicago
    assert min(starts).isoformat().startswith("2030-01-07T12:00")


def test_schedule_refuses_clearly(run: Callable[..., Result], demo: None) -> None:
    unknown = run("schedule", "--org", "Nobody Inc.")
    viewer = run("schedule", "--apply", "--as", "viewer@sunshine.example")
    naive = run("schedule", "--start", "2030-01-07T06:00:00")
    far = run("schedule", "--start", "9999-12-31T23:59:59-01:00")

    assert unknown.exit_code == 1
    assert "no organisation named 'Nobody Inc.'" in unknown.output
    assert viewer.exit_code == 1
    assert "The viewer role may not apply schedules" in viewer.output
    assert naive.exit_code == 1
    assert "offset" in naive.output
    assert far.exit_code == 1
    assert "must be between 1900-01-01 and 9000-12-31 (UTC)" in far.output


def test_schedule_names_the_line_item_it_cannot_place(
    run: Callable[..., Result], demo: None, database: str
) -> None:
    engine = create_db_engine(database)
    with create_session_factory(engine)() as session:
        li = session.scalars(select(LineItem).order_by(LineItem.id)).first()
        assert li is not None
        li.setup_minutes, li.run_minutes_per_unit = (
            li.setup_minutes * 0,
            li.run_minutes_per_unit * 0,
        )
        session.commit()
    engine.dispose()

    result = run("schedule", "--time-limit", "1")

    assert result.exit_code == 1
    assert "WO-000001 line item 1 (Bottling) cannot be scheduled" in result.output
    assert "takes no time" in result.output


def test_schedule_refuses_a_time_limit_above_the_cap_and_a_viewers_preview(
    run: Callable[..., Result], demo: None
) -> None:
    too_long = run("schedule", "--time-limit", "61")
    viewer = run("schedule", "--time-limit", "1", "--as", "viewer@sunshine.example")

    assert too_long.exit_code == 2
    assert "--time-limit" in too_long.output
    assert "60" in too_long.output
    assert viewer.exit_code == 1
    assert "The viewer role may not preview schedules" in viewer.output
