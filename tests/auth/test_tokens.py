"""API tokens in the auth service: stored as their hash only, answering until they expire or
are revoked, each refusal saying why; expiry rules; revoking audited once."""

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from taktline.auth import service
from taktline.auth.models import ApiToken, User
from taktline.db import utcnow
from taktline.errors import NotFound, Unauthorized
from taktline.events.models import Event
from taktline.permissions import Role
from tests.helpers import Tenant

NOW = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)


def _user(session: Session, tenant: Tenant, role: str = "viewer") -> User:
    user = session.get_one(User, tenant.user(role).user_id)
    session.rollback()
    return user


def test_a_token_is_stored_as_its_hash_only(session: Session, tenant: Tenant) -> None:
    secret = service.create_token(session, _user(session, tenant))

    stored = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hashlib.sha256(secret.encode()).hexdigest())
    ).one()
    assert stored.prefix == secret[:12]
    assert secret not in {stored.token_hash, stored.prefix}
    assert stored.expires_at is None
    assert service.actor_for_token(session, secret).role is Role.VIEWER


def test_each_refused_token_says_why(session: Session, tenant: Tenant) -> None:
    viewer = _user(session, tenant)
    expired = service.create_token(session, viewer, expires_at=utcnow() + timedelta(days=1))
    revoked = service.issue_token(session, viewer)
    service.revoke(session, revoked.view.token.id)
    session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == service.hash_token(expired))
        .values(expires_at=utcnow() - timedelta(minutes=1))
    )
    session.commit()
    cases = {
        "tkl_no-such-token": "The bearer token is not valid.",
        expired: "The token has expired.",
        revoked.secret: "The token has been revoked.",
    }

    for secret, words in cases.items():
        with pytest.raises(Unauthorized) as refused:
            service.actor_for_token(session, secret)
        assert refused.value.detail == words


def test_a_deactivated_users_tokens_do_not_answer(session: Session, tenant: Tenant) -> None:
    session.execute(
        update(User).where(User.id == tenant.user("viewer").user_id).values(active=False)
    )
    session.commit()

    with pytest.raises(Unauthorized, match="not valid"):
        service.actor_for_token(session, tenant.token("viewer"))


def test_a_token_answers_until_the_moment_it_expires(session: Session, tenant: Tenant) -> None:
    token = service.issue_token(session, _user(session, tenant), expires_at=NOW + timedelta(days=1))
    row = token.view.token

    assert service.state_of(row, NOW) is service.TokenState.ACTIVE
    assert service.state_of(row, NOW + timedelta(days=1) - timedelta(microseconds=1)).value == (
        "active"
    )
    assert service.state_of(row, NOW + timedelta(days=1)) is service.TokenState.EXPIRED


@pytest.mark.parametrize(
    ("expires_at", "days", "expected"),
    [
        (None, None, None),
        (None, 30, NOW + timedelta(days=30)),
        (NOW + timedelta(hours=1), None, NOW + timedelta(hours=1)),
    ],
)
def test_the_expiry_of_a_new_token(
    expires_at: datetime | None, days: int | None, expected: datetime | None
) -> None:
    assert service.expiry_of(expires_at, days, NOW) == expected


@pytest.mark.parametrize(
    ("expires_at", "days", "words"),
    [
        (NOW, None, "must be in the future"),
        (NOW - timedelta(days=1), None, "must be in the future"),
        (datetime(2031, 1, 1), None, "needs an offset"),
        (None, 0, "from 1 to 3650 days"),
        (None, 3651, "from 1 to 3650 days"),
        (NOW + timedelta(days=1), 1, "not both"),
        (NOW + timedelta(days=3651), None, "within 3650 days"),
        (datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))), None, "within"),
    ],
)
def test_an_expiry_that_is_refused(
    expires_at: datetime | None, days: int | None, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        service.expiry_of(expires_at, days, NOW)


def test_revoking_says_whether_the_token_was_live_and_is_audited_once(
    session: Session, tenant: Tenant
) -> None:
    issued = service.issue_token(session, _user(session, tenant, "operator"))
    token_id = issued.view.token.id

    first = service.revoke(session, token_id)
    second = service.revoke(session, token_id)

    assert (first[1], second[1]) == (True, False)
    assert first[0].state is second[0].state is service.TokenState.REVOKED
    assert second[0].token.revoked_at == first[0].token.revoked_at
    actions = session.scalars(
        select(Event.action).where(Event.entity_id == token_id).order_by(Event.id)
    ).all()
    assert actions == ["create", "revoke"]
    with pytest.raises(Unauthorized, match="revoked"):
        service.actor_for_token(session, issued.secret)


def test_an_admin_may_not_revoke_another_organisations_token(
    session: Session, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = service.issue_token(session, _user(session, other_tenant))

    with pytest.raises(NotFound):
        service.revoke_in_org(session, tenant.actor("admin"), theirs.view.token.id)
    assert service.actor_for_token(session, theirs.secret).org_id == other_tenant.org_id
