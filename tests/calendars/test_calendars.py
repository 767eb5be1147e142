"""Working calendars: weekly hours of a facility or a resource (the resource's own, else its
facility's, else around the clock), local to the facility's time zone, and exceptions that
close (holidays, maintenance, downtime) or open (extra shifts) working time; as the API
shows them and as the scheduler expands them."""

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from taktline.calendars import service as calendars
from taktline.events.models import Event
from taktline.resources.models import Resource
from tests.helpers import API, Tenant, assert_problem, error_fields
from tests.scheduling.shop import H0, Json, Shop, ok, record, weekly

MONDAY = H0.replace(hour=0)  # Monday 7 January 2030, 00:00 UTC


def _calendar(shop: Shop, collection: str, owner_id: str, role: str = "viewer") -> Json:
    return record(ok(shop.request("GET", f"/{collection}/{owner_id}/calendar", role=role)))


def test_a_resource_works_by_its_own_hours_else_its_facilitys_else_around_the_clock(
    client: TestClient, tenant: Tenant
) -> None:
    shop = Shop.open(client, tenant, hours=None)
    line = shop.resource()

    assert _calendar(shop, "resources", line["id"])["source"] == "always"
    shop.set_calendar("facilities", shop.facility["id"], weekly("06:00", "14:00"))
    inherited = _calendar(shop, "resources", line["id"])
    assert inherited["source"] == "facility"
    assert inherited["time_zone"] == "America/Chicago"
    assert inherited["weekly_working_minutes"] == 5 * 8 * 60
    own = shop.set_calendar("resources", line["id"], weekly("22:00", "06:00", ["monday"]))
    assert own["source"] == "own"
    assert own["shifts"] == [{"weekday": "monday", "start": "22:00", "end": "06:00"}]
    assert own["weekly_working_minutes"] == 8 * 60
    cleared = ok(shop.request("DELETE", f"/resources/{line['id']}/calendar"))
    assert cleared["source"] == "facility"
    ok(shop.request("DELETE", f"/facilities/{shop.facility['id']}/calendar"))
    assert _calendar(shop, "resources", line["id"])["source"] == "always"


def test_hours_are_local_times_and_24_00_is_midnight(client: TestClient, tenant: Tenant) -> None:
    shop = Shop.open(client, tenant, hours=None)

    answer = shop.set_calendar(
        "facilities",
        shop.facility["id"],
        {
            "shifts": [
                {"weekday": "saturday", "start": "00:00", "end": "24:00"},
                {"weekday": "sunday", "start": "00:00", "end": "00:00"},
            ]
        },
    )

    assert answer["weekly_working_minutes"] == 2 * 24 * 60
    assert [s["end"] for s in answer["shifts"]] == ["00:00", "00:00"]


def test_bad_hours_are_refused_field_by_field(client: TestClient, tenant: Tenant) -> None:
    shop = Shop.open(client, tenant)
    url = f"/facilities/{shop.facility['id']}/calendar"

    bad = shop.request(
        "PUT",
        url,
        {
            "shifts": [
                {"weekday": "monday", "start": "06:00", "end": "14:00"},
                {"weekday": "mon", "start": "25:00", "end": "6pm"},
            ]
        },
    )

    problem = assert_problem(bad, 422, "validation-error")
    assert error_fields(problem) == [
        "body.shifts.1.weekday",
        "body.shifts.1.start",
        "body.shifts.1.end",
    ]
    assert "HH:MM" in problem["detail"]
    # nothing changed
    assert _calendar(shop, "facilities", shop.facility["id"])["weekly_working_minutes"] == 2400


def test_if_match_guards_the_weekly_hours(client: TestClient, tenant: Tenant) -> None:
    shop = Shop.open(client, tenant)
    url = f"/facilities/{shop.facility['id']}/calendar"
    first = client.get(f"{API}{url}", headers=tenant.headers())
    assert first.headers["etag"] == '"1"'
    ok(
        client.put(
            f"{API}{url}",
            json=weekly("07:00", "15:00"),
            headers={**tenant.headers(), "If-Match": '"1"'},
        )
    )

    stale = client.put(
        f"{API}{url}",
        json=weekly("08:00", "16:00"),
        headers={**tenant.headers(), "If-Match": '"1"'},
    )

    assert_problem(stale, 412, "version-mismatch")
    assert _calendar(shop, "facilities", shop.facility["id"])["shifts"][0]["start"] == "07:00"


def test_exceptions_are_added_listed_by_window_and_removed(
    client: TestClient, tenant: Tenant
) -> None:
    shop = Shop.open(client, tenant)
    line = shop.resource()
    base = f"/resources/{line['id']}/calendar/exceptions"
    early = shop.add_exception("resources", line["id"], "MAINTENANCE", H0, H0 + timedelta(hours=4))
    late = shop.add_exception(
        "resources", line["id"], "DOWNTIME", H0 + timedelta(days=3), H0 + timedelta(days=4)
    )
    shop.add_exception("facilities", shop.facility["id"], "HOLIDAY", H0, H0 + timedelta(days=1))

    everything = ok(shop.request("GET", base, role="viewer"))["items"]
    window = ok(
        client.get(
            f"{API}{base}",
            params={"from": (H0 + timedelta(days=2)).isoformat()},
            headers=tenant.headers("viewer"),
        )
    )["items"]

    assert [e["id"] for e in everything] == [early["id"], late["id"]]  # its own only
    assert [e["id"] for e in window] == [late["id"]]
    assert ok(shop.request("DELETE", f"{base}/{early['id']}"), 204) is None
    assert [e["id"] for e in ok(shop.request("GET", base))["items"]] == [late["id"]]
    assert_problem(shop.request("DELETE", f"{base}/{early['id']}"), 404, "not-found")


def test_an_exception_must_end_after_it_starts(client: TestClient, tenant: Tenant) -> None:
    shop = Shop.open(client, tenant)
    body = {"kind": "HOLIDAY", "starts_at": H0.isoformat(), "ends_at": H0.isoformat()}

    problem = assert_problem(
        shop.request("POST", f"/facilities/{shop.facility['id']}/calendar/exceptions", body),
        422,
        "validation-error",
    )

    assert error_fields(problem) == ["body.ends_at"]


def test_another_organisations_exception_is_not_found_under_ones_own_resource(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine, theirs = Shop.open(client, tenant), Shop.open(client, other_tenant)
    my_line, their_line = mine.resource(), theirs.resource()
    their_exception = theirs.add_exception(
        "resources", their_line["id"], "MAINTENANCE", H0, H0 + timedelta(hours=1)
    )

    response = mine.request(
        "DELETE", f"/resources/{my_line['id']}/calendar/exceptions/{their_exception['id']}"
    )

    assert_problem(response, 404, "not-found")
    assert (
        len(
            ok(theirs.request("GET", f"/resources/{their_line['id']}/calendar/exceptions"))["items"]
        )
        == 1
    )


def test_calendar_changes_are_in_the_audit_trail(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    shop = Shop.open(client, tenant)
    line = shop.resource()
    shop.add_exception("resources", line["id"], "MAINTENANCE", H0, H0 + timedelta(hours=1))

    actions = session.scalars(
        select(Event.action).where(
            Event.entity_id.in_([uuid.UUID(shop.facility["id"]), uuid.UUID(line["id"])])
        )
    ).all()
    session.rollback()

    assert "set_calendar" in actions
    assert "add_calendar_exception" in actions


# --- as the scheduler sees them ------------------------------------------------------------


def _expanded(
    session: Session, tenant: Tenant, resource: Json, days: int = 7
) -> list[tuple[int, int]]:
    row = session.get_one(Resource, uuid.UUID(resource["id"]))
    hours = calendars.resource_hours(
        session, tenant.org_id, [row], MONDAY, MONDAY + timedelta(days=days)
    )
    session.rollback()
    calendar = calendars.expand(hours[row.id], MONDAY, MONDAY + timedelta(days=days))
    assert calendar is not None
    return list(calendar.intervals)


def test_expanded_hours_are_local_to_the_facility_and_exceptions_of_both_apply(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    shop = Shop.open(client, tenant)  # Mon-Fri 06:00-14:00 Chicago = 12:00-20:00 UTC
    line = shop.resource()
    tuesday = MONDAY + timedelta(days=1)
    shop.add_exception(
        "facilities", shop.facility["id"], "HOLIDAY", tuesday, tuesday + timedelta(days=1)
    )
    shop.add_exception(
        "resources", line["id"], "MAINTENANCE", MONDAY.replace(hour=12), MONDAY.replace(hour=14)
    )
    saturday = MONDAY + timedelta(days=5)
    shop.add_exception(
        "resources", line["id"], "EXTRA_SHIFT", saturday.replace(hour=13), saturday.replace(hour=17)
    )

    intervals = _expanded(session, tenant, line)

    day = 24 * 60
    assert intervals == [
        (14 * 60, 20 * 60),  # Monday, after the maintenance
        # Tuesday: the facility's holiday
        (2 * day + 12 * 60, 2 * day + 20 * 60),
        (3 * day + 12 * 60, 3 * day + 20 * 60),
        (4 * day + 12 * 60, 4 * day + 20 * 60),
        (5 * day + 13 * 60, 5 * day + 17 * 60),  # Saturday: the extra shift
    ]


def test_a_resource_without_any_calendar_always_works(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    shop = Shop.open(client, tenant, hours=None)
    row = session.get_one(Resource, uuid.UUID(shop.resource()["id"]))

    hours = calendars.resource_hours(
        session, tenant.org_id, [row], MONDAY, MONDAY + timedelta(days=7)
    )
    session.rollback()

    assert hours[row.id].always
    assert calendars.expand(hours[row.id], MONDAY, MONDAY + timedelta(days=7)) is None


def test_hours_follow_the_clock_change_in_the_facility_time_zone(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    """Chicago moves to daylight saving time on Sunday 10 March 2030: a 06:00 shift starts
    at 12:00 UTC on the Friday before and at 11:00 UTC on the Monday after."""
    shop = Shop.open(client, tenant)
    line = shop.resource()
    friday = datetime(2030, 3, 8, tzinfo=UTC)
    row = session.get_one(Resource, uuid.UUID(line["id"]))
    hours = calendars.resource_hours(
        session, tenant.org_id, [row], friday, friday + timedelta(days=4)
    )
    session.rollback()

    calendar = calendars.expand(hours[row.id], friday, friday + timedelta(days=4))

    assert calendar is not None
    assert calendar.intervals == (
        (12 * 60, 20 * 60),
        (3 * 24 * 60 + 11 * 60, 3 * 24 * 60 + 19 * 60),
    )
