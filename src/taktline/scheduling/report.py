"""The scheduler's answer for a terminal: a progress display while it solves, and summary
tables (used by `taktline schedule`)."""

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from rich.console import Console
from rich.table import Table

from taktline.scheduling.schemas import ApplyOut, ProposalOut

T = TypeVar("T")
MOVES_SHOWN = 30


def with_progress(console: Console, work: Callable[[Callable[[str], None]], T]) -> T:
    """Runs `work(progress)` in a worker thread while showing what it does and for how long:
    a spinner with the elapsed time on a terminal, one line per step otherwise."""
    phase = ["Starting"]
    result: list[T] = []
    failure: list[BaseException] = []
    began = time.perf_counter()

    def progress(text: str) -> None:
        phase[0] = text
        if not console.is_terminal:
            console.print(f"{text}...", highlight=False)

    def run() -> None:
        try:
            result.append(work(progress))
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=run, name="taktline-schedule", daemon=True)
    worker.start()
    if console.is_terminal:
        with console.status("", spinner="dots") as status:
            while worker.is_alive():
                status.update(f"{phase[0]} · {time.perf_counter() - began:5.1f} s")
                worker.join(0.1)
    worker.join()
    if failure:
        raise failure[0]
    return result[0]


def _when(value: datetime | None) -> str:
    return "—" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _window(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    if start.date() == end.date():
        return f"{start:%d %b %H:%M}-{end:%H:%M}"
    return f"{start:%d %b %H:%M} - {end:%d %b %H:%M}"


def summary(proposal: ProposalOut, applied: ApplyOut | None = None) -> Table:
    s = proposal.summary
    table = Table(
        title="Schedule" + (" (applied)" if applied else " (preview: nothing changed)"),
        show_header=False,
    )
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row(
        "Work orders",
        f"{s.work_orders}: {s.to_schedule} to schedule, {s.to_reschedule} move, "
        f"{s.unchanged} stay; {s.fixed} fixed, {s.skipped} skipped",
    )
    table.add_row("Line items", str(s.line_items))
    table.add_row("Late", f"{s.late} ({s.becomes_late} newly late)")
    unit = "min x priority" if proposal.objective == "weighted_tardiness" else "min"
    table.add_row("Objective", str(proposal.objective))
    table.add_row("Value", f"{proposal.value} {unit}")
    table.add_row("Bound", f"{proposal.bound} {unit}")
    table.add_row(
        "Gap", f"{100 * proposal.gap:.2f} %" + (" (proven optimal)" if proposal.optimal else "")
    )
    method = f"{proposal.method} ({proposal.status})"
    if proposal.heuristic_value is not None:
        method += f"; heuristic {proposal.heuristic_value}"
    table.add_row("Method", method + (f"; {proposal.note}" if proposal.note else ""))
    table.add_row("Time", f"{proposal.seconds:.2f} s (limit {proposal.time_limit_seconds:g} s)")
    table.add_row("All work ends", _when(proposal.work_end) + " UTC")
    if applied is not None:
        table.add_row(
            "Applied",
            f"{len(applied.scheduled)} scheduled, {len(applied.rescheduled)} rescheduled, "
            f"{len(applied.unchanged)} unchanged",
        )
    return table


def moves(proposal: ProposalOut) -> Table | None:
    """The work orders that get a new window, most urgent news first (late ones first)."""
    changing = [w for w in proposal.work_orders if w.action != "keep"]
    if not changing:
        return None
    changing.sort(key=lambda w: (not w.becomes_late, not w.late, w.planned_start, w.number))
    table = Table(title="What moves (times in UTC)")
    for column in ("Work order", "Action", "From", "To", "Due", "Late"):
        table.add_column(column)
    for w in changing[:MOVES_SHOWN]:
        late = f"{w.lateness_minutes} min" if w.late else ""
        if w.becomes_late:
            late += " (new)"
        table.add_row(
            w.number,
            w.action,
            _window(w.previous_start, w.previous_end),
            _window(w.planned_start, w.planned_end),
            "—" if w.due_date is None else f"{w.due_date:%d %b %H:%M}",
            late,
        )
    if len(changing) > MOVES_SHOWN:
        table.caption = f"and {len(changing) - MOVES_SHOWN} more"
    return table
