"""The API tokens of the organisation, for its admins:

    GET     /tokens             a page of them (revoked and expired ones too), `?email=`
    POST    /tokens             a new token for a user of the organisation; 201, the secret once
    DELETE  /tokens/{token_id}  revoke it: from then on it answers 401

Every call needs `token.manage` (admins); another organisation's token is not found.
"""

import uuid
from typing import Annotated

from fastapi import Query

from taktline.api.deps import ActorDep, PageDep
from taktline.api.routing import APIRouter
from taktline.auth import service
from taktline.auth.schemas import EMAIL_PATTERN, TokenCreate, TokenCreated, TokenOut
from taktline.http import SessionDep, encode_cursor
from taktline.schemas import Page

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.get("", name="list_tokens")
def list_tokens(
    session: SessionDep,
    actor: ActorDep,
    paging: PageDep,
    email: Annotated[
        str | None,
        Query(max_length=320, pattern=EMAIL_PATTERN, description="Only this user's tokens."),
    ] = None,
) -> Page[TokenOut]:
    """The organisation's API tokens, oldest first, with their state; never their secrets."""
    views, last = service.list_for_org(
        session, actor, email=email, after=paging.after, limit=paging.limit
    )
    return Page(
        items=[TokenOut.of(v) for v in views],
        next_cursor=encode_cursor(last) if last else None,
    )


@router.post("", status_code=201, name="create_token")
def create_token(body: TokenCreate, session: SessionDep, actor: ActorDep) -> TokenCreated:
    """A new token for a user of the organisation. The answer carries the token itself,
    this once: only its hash is kept."""
    issued = service.create_for_user(
        session, actor, user_id=body.user_id, email=body.email, expires_at=body.expiry()
    )
    return TokenCreated(**TokenOut.of(issued.view).model_dump(), token=issued.secret)


@router.delete("/{token_id}", name="revoke_token")
def revoke_token(token_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> TokenOut:
    """Revokes the token: it answers 401 from now on. Revoking it again changes nothing."""
    return TokenOut.of(service.revoke_in_org(session, actor, token_id))
