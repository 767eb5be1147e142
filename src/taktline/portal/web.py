"""What every portal page shares: templates, the signed-in user, CSRF, messages, time zones.

Pages call the same services as the API; a refused action raises the same Problem, which a
page shows next to the form or as a message. One message, two renderings.
"""

import re
import secrets
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from taktline import permissions
from taktline.errors import Forbidden, Problem
from taktline.http import SessionDep
from taktline.orgs.models import Facility, Organisation
from taktline.permissions import Actor
from taktline.portal import security

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
    name = session.scalar(
        select(Facility.timezone).where(Facility.org_id == org_id).order_by(Facility.id).limit(1)
    )
    return ZoneInfo(name or "UTC")


def portal_user(request: Request, session: SessionDep) -> PortalUser:
    token = request.cookies.get(SESSION_COOKIE)
    resolved = security.resolve(session, token) if token else None
    if resolved is None:
        raise SignInRequired(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    actor, csrf = resolved
    org_name = session.scalar(select(Organisation.name).where(Organisation.id == actor.org_id))
    return PortalUser(actor, csrf, org_name or "", plant_zone(session, actor.org_id))


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


# --- formatting, for the templates ---------------------------------------------------------


def local(value: datetime | None, zone: ZoneInfo, fmt: str = "%a %d %b %H:%M") -> str:
    return value.astimezone(zone).strftime(fmt) if value else "—"


def local_input(value: datetime | None, zone: ZoneInfo) -> str:
    """The value of an <input type=datetime-local>, in the plant's time zone."""
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if value else ""


def quantity(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value:,f}".rstrip("0").rstrip(".") if "." in f"{value:f}" else f"{value:,}"


TEMPLATES.env.globals.update(local=local, local_input=local_input, quantity=quantity)


def problem_message(problem: Problem) -> str:
    return problem.detail


def field_errors(problem: Problem) -> dict[str, str]:
    """A validation problem's messages by form field name (its loc without 'body')."""
    errors: dict[str, str] = {}
    for err in problem.extensions.get("errors", []):
        loc = [str(p) for p in err["loc"] if p != "body"]
        errors.setdefault(".".join(loc), err["msg"])
    return errors


_LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")


def unflatten(fields: Mapping[str, str], zone: ZoneInfo) -> dict[str, Any]:
    """Form fields named like `work_orders.0.line_items.1.operation` as nested data, for the
    same schema the API validates with.

    Empty inputs are left out, so that optional fields take their defaults and required ones
    are reported missing. A datetime-local input (no zone) is a time on the plant's clock.
    """
    root: dict[Any, Any] = {}
    for name, raw in fields.items():
        value = raw.strip()
        if not value:
            continue
        if _LOCAL_DATETIME.match(value):
            value = datetime.fromisoformat(value).replace(tzinfo=zone).isoformat()
        *path, last = [int(p) if p.isdigit() else p for p in name.split(".")]
        node = root
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return _lists(root)  # type: ignore[no-any-return]


def _lists(node: Any) -> Any:
    """Dicts numbered 0, 1, 3... (rows of a form, some removed) become lists in that order."""
    if isinstance(node, dict):
        if node and all(isinstance(k, int) for k in node):
            return [_lists(node[k]) for k in sorted(node)]
        return {k: _lists(v) for k, v in node.items()}
    return node
