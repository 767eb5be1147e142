"""FastAPI dependencies shared by every router: the session, the actor, If-Match, paging."""

import base64
import binascii
import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from taktline.auth import service as auth_service
from taktline.auth.permissions import Actor
from taktline.errors import FieldError, Unauthorized, ValidationProblem


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
_bearer = HTTPBearer(auto_error=False, description="An API token: `taktline token create`.")


def current_actor(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an API token as `Authorization: Bearer <token>`.")
    return auth_service.actor_for_token(session, credentials.credentials)


ActorDep = Annotated[Actor, Depends(current_actor)]


def expected_version(
    if_match: Annotated[
        str | None,
        Header(description='The ETag last read (`"3"`): refused with 412 if it has moved on.'),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise ValidationProblem(
            [FieldError(["header", "If-Match"], f'expected an ETag such as "3", got {if_match!r}')]
        )
    return int(raw)


IfMatchDep = Annotated[int | None, Depends(expected_version)]


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> uuid.UUID | None:
    if not cursor:
        return None
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise ValidationProblem(
            [FieldError(["query", "cursor"], "not a cursor returned by this list")]
        ) from None


class PageParams:
    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=500, description="Page size, at most 500.")] = 50,
        cursor: Annotated[
            str | None, Query(description="`next_cursor` of the page before.")
        ] = None,
    ) -> None:
        self.limit = limit
        self.after = decode_cursor(cursor)


PageDep = Annotated[PageParams, Depends()]
