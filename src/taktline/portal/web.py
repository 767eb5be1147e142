"""What every portal page shares: templates, the signed-in user, CSRF, messages.

Pages call the same use cases as the API; a refused action raises the same Problem, which a
page shows next to the form (in the form's words, see forms.py) or as a message.
"""

import secrets
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from taktline import permissions
from taktline.errors import Forbidden
from taktline.http import SessionDep
from taktline.permissions import Actor
from taktline.portal import queries, security
from taktline.portal.format import local, local_input, quantity

SESSION_COOKIE = "taktline_session"
LOGIN_CSRF_COOKIE = "taktline_login_csrf"
FLASH_COOKIE = "taktline_flash"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


class SignInRequired(Exception):
    """Raised by `portal_user` without a live session: answered with a redirect to sign in."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


@dataclass(frozen=True)
class PortalUser:
    actor: Actor
    csrf_token: str
    org_name: str
    zone: ZoneInfo

    def may(self, action: str, record: str = "work_order") -> bool:
        """Whether the role may take this action on this kind of record (the permissions
        table's answer, which the use case gives too)."""
        return permissions.may(self.actor, f"{record}.{action}")

    @property
    def may_plan(self) -> bool:
        return self.may("create", "production_order")


def plant_zone(session: Session, org_id: uuid.UUID) -> ZoneInfo:
    """Times show in the time zone of the organisation's (first) facility: the plant's clock."""
    return ZoneInfo(queries.plant_zone_name(session, org_id) or "UTC")


def portal_user(request: Request, session: SessionDep) -> PortalUser:
    token = request.cookies.get(SESSION_COOKIE)
    resolved = security.resolve(session, token) if token else None
    if resolved is None:
        raise SignInRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    actor, csrf = resolved
    org_name = queries.org_name(session, actor.org_id)
    return PortalUser(actor, csrf, org_name, plant_zone(session, actor.org_id))


UserDep = Annotated[PortalUser, Depends(portal_user)]


async def checked_form(request: Request, user: UserDep) -> dict[str, str]:
    """The posted form, once its CSRF token has been checked against the session's.

    A form posted from another site cannot know the token, so it is refused (403) and
    nothing runs.
    """
    form = await request.form()
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    if not security.csrf_matches(user.csrf_token, fields.pop("csrf_token", None)):
        raise Forbidden("The form is out of date or was not sent from Taktline. Reload the page.")
    return fields


FormDep = Annotated[dict[str, str], Depends(checked_form)]


def render(
    request: Request,
    template: str,
    user: PortalUser | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    flash = request.cookies.get(FLASH_COOKIE)
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "flash": urllib.parse.unquote(flash) if flash else None,
            **context,
        },
        status_code=status_code,
    )
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(url: str, message: str | None = None) -> RedirectResponse:
    """Post/redirect/get: the page after an action, with a one-time message."""
    response = RedirectResponse(url, status_code=303)
    if message:
        response.set_cookie(
            FLASH_COOKIE, urllib.parse.quote(message), max_age=60, httponly=True, samesite="lax"
        )
    return response


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(security.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


TEMPLATES.env.globals.update(local=local, local_input=local_input, quantity=quantity)
