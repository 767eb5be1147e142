"""Helpers of the portal tests: signing a tenant's user in through the real sign-in form.

    signed_in(client, tenant, "planner")     # the client now carries that user's session
    token = csrf_of(client.get("/production-orders").text)

Every portal form carries the session's CSRF token in a hidden `csrf_token` field; `csrf_of`
reads it from a page, as a browser would submit it.
"""

import re

from fastapi.testclient import TestClient

from taktline.permissions import Role
from tests.helpers.tenants import Tenant

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    match = _CSRF.search(html)
    assert match is not None, "no csrf_token field on the page"
    return match.group(1)


def set_password(client: TestClient, tenant: Tenant, role: Role | str) -> str:
    """Gives that role's user of `tenant` a password (through the service); returns its email."""
    from taktline.portal.security import set_password as set_user_password

    app = client.app
    email = tenant.user(role).email
    with app.state.session_factory() as session:  # type: ignore[attr-defined]
        set_user_password(session, email, PASSWORD)
    return email


def signed_in(
    client: TestClient, tenant: Tenant, role: Role | str = Role.PLANNER, password: str = PASSWORD
) -> TestClient:
    """Signs that role's user of `tenant` in through GET and POST /login (with the form's CSRF
    field and cookie), like a browser; the client keeps the session cookie. Returns `client`.

    One client holds one session: signing in as another role replaces the cookie.
    """
    email = set_password(client, tenant, role)
    form = client.get("/login")
    assert form.status_code == 200, form.text
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, f"sign-in failed ({response.status_code}): {response.text}"
    assert "taktline_session" in client.cookies, "no session cookie after sign-in"
    return client
