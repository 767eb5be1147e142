"""API tokens through the API: an admin lists, creates (for a user of the organisation, with
an optional expiry; the secret in that answer only) and revokes them. An expired token
answers 401 "The token has expired.", a revoked one 401 "The token has been revoked.".
Creating and revoking are audited; another organisation's tokens do not exist; bad bodies
are refused with 422 naming the field, and change nothing.

(Who may call these at all, and 404 for another organisation's id, are walked with every
other operation in test_roles.py, test_tenancy.py and tests/test_permissions.py.)
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from taktline.auth.models import ApiToken, User
from taktline.db import utcnow
from taktline.events.models import Event
from tests.api.conftest import Json, observe
from tests.api.test_concurrency import race
from tests.helpers import API, Tenant, assert_problem, bodies, error_fields

TOKENS = f"{API}/tokens"


def admin(tenant: Tenant, **extra: str) -> dict[str, str]:
    return {**tenant.headers("admin"), **extra}


def create(client: TestClient, tenant: Tenant, body: Json) -> Json:
    response = client.post(TOKENS, json=body, headers=admin(tenant))
    assert response.status_code == 201, response.text
    return response.json()


def listed(client: TestClient, tenant: Tenant, **params: Any) -> list[Json]:
    """Every token of the list, page by page (two at a time)."""
    found: list[Json] = []
    cursor: str | None = None
    while True:
        query = {"limit": 2, **params, **({"cursor": cursor} if cursor else {})}
        response = client.get(TOKENS, params=query, headers=admin(tenant))
        assert response.status_code == 200, response.text
        found.extend(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_events(session: Session, token_id: str) -> list[Event]:
    events = list(
        session.scalars(
            select(Event).where(Event.entity_id == uuid.UUID(token_id)).order_by(Event.id)
        )
    )
    session.expunge_all()  # detached, they keep what was read
    session.rollback()  # on SQLite a transaction holds the write lock
    return events


def test_an_admin_creates_a_token_for_a_user_of_the_organisation_shown_in_that_answer_only(
    client: TestClient, tenant: Tenant
) -> None:
    viewer = tenant.user("viewer")

    created = create(client, tenant, {"email": viewer.email.upper()})

    assert created["token"].startswith("tkl_")
    assert (created["user_id"], created["email"], created["role"]) == (
        str(viewer.user_id),
        viewer.email,
        "viewer",
    )
    assert created["state"] == "active"
    assert created["expires_at"] is None
    assert created["revoked_at"] is None
    assert created["token"].startswith(created["prefix"])
    works = client.get(f"{API}/items", headers=bearer(created["token"]))
    assert works.status_code == 200, works.text
    # The token is the viewer's: it may read, not plan.
    refused = client.post(f"{API}/items", json=bodies.item(), headers=bearer(created["token"]))
    assert_problem(refused, 403, "forbidden")
    page = client.get(TOKENS, headers=admin(tenant))
    assert created["token"] not in page.text
    (shown,) = [t for t in page.json()["items"] if t["id"] == created["id"]]
    assert "token" not in shown
    assert shown["last_used_at"] is not None  # it was just used
    unchanging = set(shown) - {"last_used_at"}
    assert {k: shown[k] for k in unchanging} == {k: created[k] for k in unchanging}


def test_a_token_may_name_its_user_by_id(client: TestClient, tenant: Tenant) -> None:
    operator = tenant.user("operator")

    created = create(client, tenant, {"user_id": str(operator.user_id)})

    assert created["email"] == operator.email
    assert client.get(f"{API}/work-orders", headers=bearer(created["token"])).status_code == 200


def test_expiry_in_days_or_at_a_time_and_an_expired_token_answers_401(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    email = tenant.user("viewer").email
    before = utcnow()

    in_days = create(client, tenant, {"email": email, "expires_in_days": 30})
    at_time = create(client, tenant, {"email": email, "expires_at": "2031-06-01T12:00:00+02:00"})

    expires = datetime.fromisoformat(in_days["expires_at"])
    assert before + timedelta(days=30) <= expires <= utcnow() + timedelta(days=30)
    assert datetime.fromisoformat(at_time["expires_at"]) == datetime(2031, 6, 1, 10, tzinfo=UTC)
    assert client.get(f"{API}/items", headers=bearer(in_days["token"])).status_code == 200
    # A month on: the token has expired.
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == uuid.UUID(in_days["id"]))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    problem = assert_problem(
        client.get(f"{API}/items", headers=bearer(in_days["token"])), 401, "unauthorized"
    )
    assert problem["detail"] == "The token has expired."
    (shown,) = [t for t in listed(client, tenant, email=email) if t["id"] == in_days["id"]]
    assert shown["state"] == "expired"


def test_a_revoked_token_answers_401_and_revoking_it_again_changes_nothing(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    created = create(client, tenant, {"email": tenant.user("operator").email})

    revoked = client.delete(f"{TOKENS}/{created['id']}", headers=admin(tenant))
    again = client.delete(f"{TOKENS}/{created['id']}", headers=admin(tenant))

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["state"] == "revoked"
    assert revoked.json()["revoked_at"] is not None
    assert again.status_code == 200
    assert again.json() == revoked.json()
    problem = assert_problem(
        client.get(f"{API}/items", headers=bearer(created["token"])), 401, "unauthorized"
    )
    assert problem["detail"] == "The token has been revoked."
    assert [e.action for e in token_events(session, created["id"])] == ["create", "revoke"]
    # The operator's own token still answers.
    assert client.get(f"{API}/items", headers=tenant.headers("operator")).status_code == 200


def test_creating_and_revoking_are_audited_as_the_admin(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    created = create(client, tenant, {"email": tenant.user("viewer").email, "expires_in_days": 7})
    client.delete(f"{TOKENS}/{created['id']}", headers=admin(tenant))

    made, ended = token_events(session, created["id"])

    for event in (made, ended):
        assert event.entity_type == "api_token"
        assert event.org_id == tenant.org_id
        assert event.actor_id == tenant.user("admin").user_id
        assert event.changes["email"] == tenant.user("viewer").email
        assert event.changes["prefix"] == created["prefix"]
        assert created["token"] not in str(event.changes)
    assert (made.action, ended.action) == ("create", "revoke")
    assert made.changes["expires_at"] == datetime.fromisoformat(created["expires_at"]).isoformat()


def test_the_list_shows_the_organisations_tokens_only_filtered_by_email_and_paged(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    viewer = tenant.user("viewer").email
    ours = [create(client, tenant, {"email": viewer}) for _ in range(3)]
    theirs = create(client, other_tenant, {"email": other_tenant.user("viewer").email})

    everything = listed(client, tenant)
    of_viewer = listed(client, tenant, email=viewer)

    ids = [t["id"] for t in everything]
    assert theirs["id"] not in ids
    assert len(ids) == len(set(ids)) == 4 + 3  # one per role from the start, and ours
    assert ids == sorted(ids)  # oldest first
    assert {t["email"] for t in everything} == {u.email for u in tenant.users.values()}
    assert [t["id"] for t in of_viewer][-3:] == [t["id"] for t in ours]
    assert {t["email"] for t in of_viewer} == {viewer}
    assert listed(client, tenant, email=other_tenant.user("viewer").email) == []


def test_another_organisations_user_is_refused_like_an_unknown_one(
    client: TestClient, app: FastAPI, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = other_tenant.user("viewer")
    before = observe(client, app, ())

    cases = [
        ({"user_id": str(theirs.user_id)}, {"user_id": str(uuid.uuid4())}, "body.user_id"),
        ({"email": theirs.email}, {"email": "nobody@nowhere.test"}, "body.email"),
    ]
    for foreign_body, missing_body, field in cases:
        foreign = client.post(TOKENS, json=foreign_body, headers=admin(tenant))
        missing = client.post(TOKENS, json=missing_body, headers=admin(tenant))

        problem = assert_problem(foreign, 422, "validation-error")
        assert error_fields(problem) == [field]
        assert problem["errors"][0]["msg"] == assert_problem(missing, 422)["errors"][0]["msg"]
    assert observe(client, app, ()) == before


def test_a_token_for_a_deactivated_user_is_refused(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    viewer = tenant.user("viewer")
    session.execute(update(User).where(User.id == viewer.user_id).values(active=False))
    session.commit()

    problem = assert_problem(
        client.post(TOKENS, json={"email": viewer.email}, headers=admin(tenant)), 409, "conflict"
    )

    assert "deactivated" in problem["detail"]


IN_THE_PAST = (datetime.now(UTC) - timedelta(days=1)).isoformat()
BAD_BODIES: dict[str, tuple[Json, str]] = {
    "no user": ({}, "body.email"),
    "both user_id and email": ({"user_id": "{viewer_id}", "email": "{viewer}"}, "body.email"),
    "user_id not an id": ({"user_id": "WO-000001"}, "body.user_id"),
    "email not an email": ({"email": "viewer"}, "body.email"),
    "email with a NUL": ({"email": "a\u0000b@x.test"}, "body.email"),
    "email of the wrong type": ({"email": 12}, "body.email"),
    "an unknown field": ({"email": "{viewer}", "role": "admin"}, "body.role"),
    "expires_at in the past": ({"email": "{viewer}", "expires_at": IN_THE_PAST}, "body.expires_at"),
    "expires_at without an offset": (
        {"email": "{viewer}", "expires_at": "2031-01-01T00:00:00"},
        "body.expires_at",
    ),
    "expires_at not a time": ({"email": "{viewer}", "expires_at": "soon"}, "body.expires_at"),
    "expires_at past ten years": (
        {"email": "{viewer}", "expires_at": "9999-12-31T23:00:00-05:00"},
        "body.expires_at",
    ),
    "expires_in_days zero": ({"email": "{viewer}", "expires_in_days": 0}, "body.expires_in_days"),
    "expires_in_days over ten years": (
        {"email": "{viewer}", "expires_in_days": 3651},
        "body.expires_in_days",
    ),
    "expires_in_days as text": (
        {"email": "{viewer}", "expires_in_days": "30"},
        "body.expires_in_days",
    ),
    "expires_in_days a fraction": (
        {"email": "{viewer}", "expires_in_days": 1.5},
        "body.expires_in_days",
    ),
    "both expiries": (
        {"email": "{viewer}", "expires_at": "2031-01-01T00:00:00Z", "expires_in_days": 3},
        "body.expires_in_days",
    ),
}


@pytest.mark.parametrize("case", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_bad_body_is_refused_naming_the_field_and_changes_nothing(
    case: tuple[Json, str], client: TestClient, app: FastAPI, tenant: Tenant
) -> None:
    body, field = case
    viewer = tenant.user("viewer")
    filled = {
        k: (v.format(viewer=viewer.email, viewer_id=viewer.user_id) if isinstance(v, str) else v)
        for k, v in body.items()
    }
    before = observe(client, app, ())

    response = client.post(TOKENS, json=filled, headers=admin(tenant))

    problem = assert_problem(response, 422, "validation-error")
    assert error_fields(problem) == [field], problem
    assert field.split(".", 1)[1] in problem["detail"]
    assert observe(client, app, ()) == before


def test_a_list_filter_that_is_no_email_is_refused_naming_it(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.get(TOKENS, params={"email": "not an email"}, headers=admin(tenant))

    assert error_fields(assert_problem(response, 422, "validation-error")) == ["query.email"]


def test_last_use_is_kept_to_the_hour_without_a_write_per_request(
    client: TestClient, tenant: Tenant, session: Session
) -> None:
    created = create(client, tenant, {"email": tenant.user("viewer").email})
    token_id = uuid.UUID(created["id"])

    def last_used() -> datetime | None:
        session.expire_all()
        value = session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id))
        session.rollback()
        return value

    assert last_used() is None
    client.get(f"{API}/items", headers=bearer(created["token"]))
    first = last_used()
    client.get(f"{API}/items", headers=bearer(created["token"]))
    assert first is not None
    assert last_used() == first
    # Two hours later it is written again.
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .values(last_used_at=first - timedelta(hours=2))
    )
    session.commit()
    client.get(f"{API}/items", headers=bearer(created["token"]))
    again = last_used()
    assert again is not None
    assert again >= first  # now, not two hours before the first use
    (shown,) = [t for t in listed(client, tenant) if t["id"] == created["id"]]
    assert datetime.fromisoformat(shown["last_used_at"]) == again


def test_concurrent_revokes_of_one_token_all_answer_and_are_audited_once(
    live_server: str, tenant: Tenant, client: TestClient, session: Session
) -> None:
    created = create(client, tenant, {"email": tenant.user("viewer").email})

    responses = race(live_server, [("DELETE", f"/tokens/{created['id']}", None, admin(tenant))] * 8)

    assert [r.status_code for r in responses] == [200] * 8
    assert {r.json()["revoked_at"] for r in responses} != {None}
    assert len({r.json()["revoked_at"] for r in responses}) == 1
    assert [e.action for e in token_events(session, created["id"])] == ["create", "revoke"]


def test_concurrent_first_uses_of_a_token_all_answer(
    live_server: str, tenant: Tenant, client: TestClient
) -> None:
    """Its last use is written by the first of them; the others find it set, and wait for
    nothing but that row."""
    created = create(client, tenant, {"email": tenant.user("viewer").email})

    responses = race(live_server, [("GET", "/items", None, bearer(created["token"]))] * 16)

    assert [r.status_code for r in responses] == [200] * 16
    (shown,) = [t for t in listed(client, tenant) if t["id"] == created["id"]]
    assert shown["last_used_at"] is not None
