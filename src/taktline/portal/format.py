"""How the portal shows values: times on the plant's clock, quantities, durations, capacity,
and the event timeline of an order in lines a planner reads."""

import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from taktline.events.models import Event
from taktline.resources.models import Resource

DASH = "\N{EN DASH}"


def local(value: datetime | None, zone: ZoneInfo, fmt: str = "%a %d %b %H:%M") -> str:
    return value.astimezone(zone).strftime(fmt) if value else "—"


def local_input(value: datetime | None, zone: ZoneInfo) -> str:
    """The value of an <input type=datetime-local>, in the plant's time zone."""
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if value else ""


def quantity(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value:,f}".rstrip("0").rstrip(".") if "." in f"{value:f}" else f"{value:,}"


def decimal_text(value: Decimal | None) -> str:
    """A quantity as an input shows it: 100, not 1E+2 or 100.000000."""
    return "" if value is None else format(value.normalize(), "f")


def plant_today(now: datetime, zone: ZoneInfo) -> date:
    """Today's date on the plant's clock."""
    return now.astimezone(zone).date()


def week_label(week: tuple[datetime, datetime], zone: ZoneInfo) -> str:
    first = week[0].astimezone(zone)
    last = (week[1] - timedelta(seconds=1)).astimezone(zone)
    return f"{first:%a %d %b} {DASH} {last:%a %d %b}"


def capacity_text(resource: Resource) -> str:
    low, high, unit = resource.capacity_min, resource.capacity_max, resource.capacity_unit or ""
    if low is None and high is None:
        return "—"
    if low is not None and high is not None:
        return f"{quantity(low)}{DASH}{quantity(high)} {unit}".strip()
    if high is not None:
        return f"up to {quantity(high)} {unit}".strip()
    return f"at least {quantity(low)} {unit}".strip()


class Fmt:
    """Formatting for the plant templates, in the plant's time zone."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone

    def hours(self, value: float) -> str:
        return f"{value:,.1f} h".replace(".0 h", " h")

    def window(self, start: datetime | None, end: datetime | None) -> str:
        if start is None or end is None:
            return "not planned"
        s, e = start.astimezone(self.zone), end.astimezone(self.zone)
        if s.date() == e.date():
            return f"{s:%a %d %b %H:%M}{DASH}{e:%H:%M}"
        return f"{s:%a %d %b %H:%M} {DASH} {e:%a %d %b %H:%M}"

    def when(self, value: datetime | None) -> str:
        return local(value, self.zone)

    def duration(self, value: timedelta) -> str:
        minutes = int(abs(value.total_seconds()) // 60)
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        if days:
            return f"{days} d {hours} h"
        if hours:
            return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
        return f"{minutes} min"

    def percent(self, value: float) -> str:
        return "booked outside working time" if math.isinf(value) else f"{value:.0f} %"

    def quantity(self, value: Decimal | None) -> str:
        return quantity(value)


# --- the event timeline --------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    who: str
    subject: str
    href: str | None
    action: str
    from_state: str | None
    to_state: str | None
    reason: str | None
    details: str


def _shown(value: Any, zone: ZoneInfo) -> str:
    if value is None:
        return "—"
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and "T" in value:
        try:
            return local(datetime.fromisoformat(value), zone, "%d %b %Y %H:%M")
        except ValueError:
            return value
    if isinstance(value, str):
        try:
            return quantity(Decimal(value)) if value.replace(".", "", 1).isdigit() else value
        except InvalidOperation:
            return value
    return str(value)


def describe(event: Event, zone: ZoneInfo) -> str:
    """What an event changed, in a line."""
    c = event.changes or {}
    try:
        if event.action == "report":
            return (
                f"line item {c['line_item']} ({c['operation']}): "
                f"+{_shown(c['quantity_completed'], zone)} completed, "
                f"+{_shown(c['quantity_scrapped'], zone)} scrapped; now {c['status']}"
            )
        if event.action == "skip":
            return f"line item {c['line_item']} ({c['operation']}) skipped"
        if event.action == "complete":
            return (
                f"produced {_shown(c['quantity_produced'], zone)}, "
                f"scrapped {_shown(c['quantity_scrapped'], zone)}"
            )
        if event.action == "schedule" and isinstance(c.get("line_items"), list):
            return "; ".join(
                f"line item {li['sequence']}: {_shown(li['planned_start'], zone)} to "
                f"{_shown(li['planned_end'], zone)}"
                for li in c["line_items"]
            )
        if event.action == "update":
            parts = []
            for name, change in c.items():
                if isinstance(change, list) and change and change[0] == "replaced":
                    parts.append(f"{name.replace('_', ' ')} replaced")
                elif isinstance(change, list) and len(change) == 2:
                    old, new = change
                    parts.append(
                        f"{name.replace('_', ' ')}: {_shown(old, zone)} → {_shown(new, zone)}"
                    )
            return "; ".join(parts)
        if event.action == "create":
            bits = []
            if "quantity" in c:
                bits.append(f"quantity {_shown(c['quantity'], zone)}")
            if isinstance(c.get("items"), list):
                bits.append(f"{len(c['items'])} item(s)")
            if isinstance(c.get("line_items"), list):
                bits.append(f"{len(c['line_items'])} line item(s)")
            return ", ".join(bits)
    except (KeyError, TypeError, ValueError):
        pass
    return ""


def timeline(
    events: Iterable[Event],
    zone: ZoneInfo,
    subjects: Mapping[uuid.UUID, tuple[str, str | None]],
) -> list[TimelineEntry]:
    """Newest first. `subjects` names the records: {id: (label, link)}."""
    out = []
    for e in events:
        label, href = subjects.get(e.entity_id, (e.entity_type.replace("_", " "), None))
        out.append(
            TimelineEntry(
                at=e.at,
                who=e.actor_email or "system",
                subject=label,
                href=href,
                action=e.action,
                from_state=e.from_state,
                to_state=e.to_state,
                reason=e.reason,
                details=describe(e, zone),
            )
        )
    out.reverse()
    return out
