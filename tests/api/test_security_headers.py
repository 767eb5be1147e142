"""Every answer carries the security headers; signed-in pages are never stored; over HTTPS
(direct, or from a proxy trusted with TAKTLINE_FORWARDED_ALLOW_IPS) every cookie is Secure.

The policies themselves are in src/taktline/api/security_headers.py; the browser tests check
that the portal and the docs run under them without a console error.
"""

import re
from collections.abc import Iterator, Mapping

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from taktline.api.security_headers import csp_hash, inline_scripts, secure_cookie
from taktline.app import create_app
from taktline.config import Settings
from tests.helpers import API, Tenant, bodies
from tests.portal.conftest import PASSWORD, csrf_of, set_password, signed_in

EVERY_ANSWER = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), geolocation=(), microphone=(), payment=()",
}


def directives(response: httpx.Response) -> dict[str, list[str]]:
    """The response's Content-Security-Policy as {directive: [sources]}."""
    policy = response.headers.get_list("content-security-policy")
    assert len(policy) == 1, f"expected one CSP, got {policy}"
    parsed: dict[str, list[str]] = {}
    for part in policy[0].split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_common_headers(response: httpx.Response, stored: bool = False) -> None:
    for name, value in EVERY_ANSWER.items():
        assert response.headers.get(name) == value, (name, response.headers)
    assert directives(response)["frame-ancestors"] == ["'none'"]
    if not stored:
        assert response.headers.get("cache-control") == "no-store"


def assert_portal_policy(response: httpx.Response) -> None:
    assert_common_headers(response)
    csp = directives(response)
    assert csp["default-src"] == ["'self'"]
    # no inline script, no javascript: URL
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    # the bars' widths are style attributes; <style> elements are not allowed
    assert csp["style-src-attr"] == ["'unsafe-inline'"]
    assert csp["img-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """The cookies a response sets, by name: the whole Set-Cookie value of each."""
    return {raw.split("=", 1)[0]: raw for raw in response.headers.get_list("set-cookie")}


def is_secure(set_cookie: str) -> bool:
    return re.search(r";\s*secure\s*(;|$)", set_cookie, re.IGNORECASE) is not None


# --- the API -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "signed", "body", "status"),
    [
        ("GET", "/health", False, None, 200),
        ("GET", "/items", True, None, 200),
        ("POST", "/items", True, bodies.item(), 201),
        ("GET", "/items", False, None, 401),
        ("POST", "/items", True, {"sku": ""}, 422),
        ("GET", "/items/00000000-0000-0000-0000-000000000000", True, None, 404),
        ("GET", "/no-such-thing", True, None, 404),
        ("DELETE", "/items", True, None, 405),
    ],
)
def test_every_api_answer_carries_the_security_headers_and_is_never_stored(
    client: TestClient,
    tenant: Tenant,
    method: str,
    path: str,
    signed: bool,
    body: object,
    status: int,
) -> None:
    response = client.request(
        method,
        f"{API}{path}",
        json=body,
        headers=tenant.headers("planner") if signed else {},
    )

    assert response.status_code == status, response.text
    assert_common_headers(response)
    # JSON runs nothing and embeds nothing: the API's policy allows nothing at all.
    assert directives(response) == {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}


def test_a_body_refused_for_its_size_carries_them_too(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        f"{API}/items",
        content=b"x" * (Settings().max_body_bytes + 1),
        headers={**tenant.headers(), "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert_common_headers(response)


def test_an_unexpected_error_carries_them_too(database_url: str) -> None:
    """The server-error handler answers outside the application's own middleware: the
    headers are added around it."""
    application = create_app(Settings(database_url=database_url))

    @application.get(f"{API}/test-only-failure")
    def fail() -> None:
        raise RuntimeError("unexpected")

    with TestClient(application, raise_server_exceptions=False) as test_client:
        response = test_client.get(f"{API}/test-only-failure")
    application.state.engine.dispose()

    assert response.status_code == 500
    assert_common_headers(response)


# --- the portal ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/", "/work-orders", "/no-such-page"])
def test_portal_answers_signed_out_carry_the_portal_policy(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)

    assert response.status_code in (200, 303, 404), response.text
    assert_portal_policy(response)


@pytest.mark.parametrize(
    "path", ["/", "/production-orders", "/work-orders", "/resources", "/board", "/floor"]
)
def test_signed_in_pages_carry_the_portal_policy_and_are_never_stored(
    client: TestClient, tenant: Tenant, path: str
) -> None:
    signed_in(client, tenant, "planner")

    response = client.get(path, follow_redirects=False)

    assert response.status_code == 200, response.text
    assert "Sign out" in response.text
    assert_portal_policy(response)


def test_static_files_keep_their_caching_but_not_their_type_guessing(client: TestClient) -> None:
    for path in ("/static/portal/taktline.css", "/static/swagger-ui/swagger-ui-bundle.js"):
        response = client.get(path)

        assert response.status_code == 200, path
        assert "cache-control" not in response.headers, path
        assert "etag" in response.headers, path
        assert_common_headers(response, stored=True)


# --- the docs ------------------------------------------------------------------------------


def test_the_docs_page_may_run_its_own_inline_script_and_nothing_else_inline(
    client: TestClient,
) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert_common_headers(response)
    csp = directives(response)
    scripts = inline_scripts(response.text)
    assert scripts, "Swagger UI is started by an inline script"
    assert csp["script-src"] == ["'self'", *(csp_hash(s) for s in scripts)]
    assert csp["default-src"] == ["'none'"]
    assert csp["connect-src"] == ["'self'"]  # the OpenAPI document and "Try it out"
    assert csp["style-src"] == ["'self'"]
    assert "validator.swagger.io" not in response.text
    assert '"validatorUrl": null' in response.text


# --- cookies and HTTPS ---------------------------------------------------------------------


def sign_in_and_out(client: TestClient, tenant: Tenant) -> dict[str, str]:
    """Every cookie the sign-in form, signing in and signing out set, by name (the last
    Set-Cookie of each)."""
    seen: dict[str, str] = {}
    seen.update(set_cookies(client.get("/login")))
    signed_in(client, tenant, "planner")
    page = client.get("/")
    logout = client.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert logout.status_code == 303
    seen.update(set_cookies(logout))
    return seen


def test_over_plain_http_cookies_are_not_secure_and_there_is_no_hsts(
    client: TestClient, tenant: Tenant
) -> None:
    form = client.get("/login")

    assert "strict-transport-security" not in form.headers
    cookies = set_cookies(form)
    assert "taktline_login_csrf" in cookies
    assert not any(is_secure(c) for c in cookies.values())


@pytest.fixture
def https_client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


def test_over_https_every_cookie_is_secure_and_hsts_is_sent(
    https_client: TestClient, tenant: Tenant
) -> None:
    form = https_client.get("/login")
    assert form.headers["strict-transport-security"] == "max-age=31536000"

    cookies = sign_in_and_out(https_client, tenant)

    assert {"taktline_login_csrf", "taktline_session", "taktline_flash"} <= set(cookies)
    for name, cookie in cookies.items():
        assert is_secure(cookie), f"{name} is not Secure: {cookie}"
        assert cookie.lower().count("secure") == 1, cookie


def test_api_answers_over_https_carry_hsts(https_client: TestClient, tenant: Tenant) -> None:
    response = https_client.get(f"{API}/items", headers=tenant.headers())

    assert response.status_code == 200
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert_common_headers(response)


def _app_behind(database_url: str, forwarded_allow_ips: str) -> FastAPI:
    return create_app(Settings(database_url=database_url, forwarded_allow_ips=forwarded_allow_ips))


FORWARDED_HTTPS: Mapping[str, str] = {"X-Forwarded-Proto": "https"}


@pytest.mark.parametrize(
    ("forwarded_allow_ips", "believed"),
    [
        ("", False),  # the default: nobody's X-Forwarded-Proto is believed
        ("10.20.30.40", False),  # a proxy, but the request did not come from it
        ("*", True),  # every client is the proxy (TestClient's is "testclient")
    ],
)
def test_x_forwarded_proto_counts_only_from_a_trusted_proxy(
    database_url: str, forwarded_allow_ips: str, believed: bool
) -> None:
    application = _app_behind(database_url, forwarded_allow_ips)
    try:
        with TestClient(application) as test_client:
            response = test_client.get("/login", headers=dict(FORWARDED_HTTPS))
    finally:
        application.state.engine.dispose()

    assert response.status_code == 200
    assert is_secure(set_cookies(response)["taktline_login_csrf"]) is believed
    assert ("strict-transport-security" in response.headers) is believed


def test_a_trusted_proxy_forwarding_https_makes_the_session_secure(
    database_url: str, tenant: Tenant
) -> None:
    """As a browser on the proxy's HTTPS address would: it sends back the Secure cookies,
    which this plain-HTTP test client would not, so they are handed back by hand."""
    application = _app_behind(database_url, "*")
    try:
        with TestClient(application, headers=dict(FORWARDED_HTTPS)) as test_client:
            form = test_client.get("/login")
            login_csrf = set_cookies(form)["taktline_login_csrf"]
            test_client.cookies.set("taktline_login_csrf", cookie_value(login_csrf))
            signing_in = test_client.post(
                "/login",
                data={
                    "email": set_password(test_client, tenant, "planner"),
                    "password": PASSWORD,
                    "csrf_token": csrf_of(form.text),
                    "next": "/",
                },
                follow_redirects=False,
            )
            assert signing_in.status_code == 303, signing_in.text
            session = set_cookies(signing_in)["taktline_session"]
            test_client.cookies.set("taktline_session", cookie_value(session))
            page = test_client.get("/")
            assert page.status_code == 200
            logout = test_client.post(
                "/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
            )
    finally:
        application.state.engine.dispose()

    flash = set_cookies(logout)["taktline_flash"]
    for cookie in (login_csrf, session, flash):
        assert is_secure(cookie), cookie


def cookie_value(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (b"a=1; Path=/", b"a=1; Path=/; Secure"),
        (b"a=1; Secure; Path=/", b"a=1; Secure; Path=/"),
        (b"a=1; HttpOnly; secure", b"a=1; HttpOnly; secure"),
        (b"secure=1; Path=/", b"secure=1; Path=/; Secure"),
    ],
)
def test_secure_is_added_to_a_cookie_once(given: bytes, expected: bytes) -> None:
    assert secure_cookie(given) == expected
