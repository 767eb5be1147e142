"""FastAPI dependencies of the API routers: the actor, If-Match, paging, the ETag."""

from typing import Annotated

from fastapi import Depends, Header, Query, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from taktline.auth import service as auth_service
from taktline.errors import Unauthorized
from taktline.http import SessionDep, decode_cursor, parse_version
from taktline.permissions import Actor

_bearer = HTTPBearer(auto_error=False, description="An API token: `taktline token create`.")


async def bearer_token(  # async: it only reads a header, and so needs no worker thread
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The request's API token, unchecked: refused at once when there is none."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an API token as `Authorization: Bearer <token>`.")
    return credentials.credentials


BearerTokenDep = Annotated[str, Depends(bearer_token)]


def current_actor(session: SessionDep, token: BearerTokenDep) -> Actor:
    return auth_service.actor_for_token(session, token)


# Who is acting, looked up in a worker thread of its own before the route runs. The floor's
# actions take the `BearerTokenDep` instead and look the token up in the route's own thread
# (`actor_for_token`): one thread hand-off a request rather than two.
ActorDep = Annotated[Actor, Depends(current_actor)]


async def expected_version(  # async: it only parses, and so needs no worker thread
    if_match: Annotated[
        str | None,
        Header(description='The ETag last read (`"3"`): refused with 412 if it has moved on.'),
    ] = None,
) -> int | None:
    return parse_version(if_match, ["header", "If-Match"])


IfMatchDep = Annotated[int | None, Depends(expected_version)]


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


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
