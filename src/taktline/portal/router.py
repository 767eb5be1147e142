"""Sign-in, sign-out and the error page; the screens live in pages/, one module each."""

from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlsplit, urlunsplit

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from taktline.errors import Problem
from taktline.http import SessionDep
from taktline.portal import security
from taktline.portal.forms import form_errors
from taktline.portal.pages import (
    board,
    boms,
    dashboard,
    floor,
    inventory,
    items,
    production_orders,
    resources,
    schedule,
    work_orders,
)
from taktline.portal.web import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    FormDep,
    SignInRequired,
    UserDep,
    new_login_csrf,
    portal_user,
    redirect,
    render,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)


def _safe_next(next_url: str | None) -> str:
    # Only paths of this site: an open redirect would help phishing.
    if next_url and next_url.startswith("/") and not next_url.startswith("//"):
        return next_url
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    token = new_login_csrf()
    response = render(request, "login.html", None, next=_safe_next(next), login_csrf=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    # The sign-in form has no session yet: its token must match the cookie set with the form
    # (a forged cross-site post cannot read or set that cookie).
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    retry_after: object = None
    if not expected or not security.csrf_matches(expected, csrf_token):
        error, status = "The sign-in form expired. Please try again.", 403
    else:
        client = request.client.host if request.client else None
        try:
            token = security.sign_in(session, email, password, client)
        except Problem as problem:
            error, status = problem.detail, problem.status
            retry_after = problem.extensions.get("retry_after_seconds")
        else:
            signed_in = redirect(_safe_next(next))
            set_session_cookie(request, signed_in, token)
            signed_in.delete_cookie(LOGIN_CSRF_COOKIE)
            return signed_in
    fresh = new_login_csrf()
    response = render(
        request,
        "login.html",
        None,
        status_code=status,
        error=error,
        email=email,
        next=_safe_next(next),
        login_csrf=fresh,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, fresh, httponly=True, samesite="strict", max_age=3600)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, user: UserDep, form: FormDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        security.sign_out(session, token)
    response = redirect("/login", "You are signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def problem_page(request: Request, problem: Problem) -> Response:
    """A refused request in the portal: the same message as the API, on a page."""
    session_factory = request.app.state.session_factory
    user = None
    with session_factory() as session:
        try:
            user = portal_user(request, session)
        except SignInRequired:
            user = None
    return render(
        request,
        "problem.html",
        user,
        status_code=problem.status,
        problem=problem,
        failure=form_errors(problem),
        back=_same_site_referrer(request),
    )


def _same_site_referrer(request: Request) -> str | None:
    """The page the user came from, as a path, when it is one of ours (the Referrer-Policy
    sends it only to the same origin; a forged one elsewhere is ignored)."""
    referrer = urlsplit(request.headers.get("referer", ""))
    if referrer.netloc != request.url.netloc or not referrer.path.startswith("/"):
        return None
    if referrer.path == request.url.path and request.method == "GET":
        return None  # going back would land here again
    return urlunsplit(("", "", referrer.path, referrer.query, ""))


def install(app: FastAPI) -> None:
    app.mount(
        "/static/portal",
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="portal-static",
    )

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    app.include_router(router)
    for screen in (
        dashboard,
        production_orders,
        work_orders,
        resources,
        board,
        schedule,
        floor,
        boms,
        items,
        inventory,
    ):
        app.include_router(screen.router)
