"""`Idempotency-Key` for POST creates: a retry with the same key and body gets the first
answer again and creates nothing new; the same key with another body is refused.

The stored answer is written in the same transaction as the records it describes, so a
create is never acknowledged without its key, nor its key kept without the create.
"""

import hashlib
import json
from collections.abc import Callable
from typing import Annotated

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from taktline.db import transaction
from taktline.errors import IdempotencyKeyReused
from taktline.idempotency import IdempotencyRecord
from taktline.permissions import Actor

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        # Printable ASCII, as HTTP field values and the IETF draft's String keys are: a NUL
        # could not even be stored on PostgreSQL.
        pattern=r"^[\x20-\x7e]+$",
        description=(
            "Any unique string of printable ASCII characters; a retry with the same key "
            "returns the first answer."
        ),
    ),
]


def _fingerprint(request: Request, body: BaseModel) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.url.path} {canonical}".encode()).hexdigest()


def _replay(session: Session, actor: Actor, key: str, fingerprint: str) -> JSONResponse | None:
    record = session.get(IdempotencyRecord, (actor.org_id, key))
    if record is None:
        return None
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was already used for a different request; use a new key."
        )
    return JSONResponse(
        record.body, status_code=record.status_code, headers={"Idempotent-Replayed": "true"}
    )


def create_idempotently(
    session: Session,
    actor: Actor,
    request: Request,
    key: str | None,
    body: BaseModel,
    create: Callable[[], BaseModel],
    status_code: int = 201,
) -> JSONResponse:
    """Runs `create` (a service call returning the response body) at most once per key."""
    if key is None:
        out = create()
        return JSONResponse(out.model_dump(mode="json"), status_code=status_code)
    fingerprint = _fingerprint(request, body)
    try:
        with transaction(session):
            replayed = _replay(session, actor, key, fingerprint)
            if replayed is not None:
                return replayed
            # Claim the key before creating anything: a concurrent twin's INSERT waits here
            # on the primary key until this transaction ends, then fails and replays our
            # answer, instead of racing us to the records (and tripping on their keys).
            record = IdempotencyRecord(
                org_id=actor.org_id, key=key, fingerprint=fingerprint, status_code=0, body={}
            )
            session.add(record)
            session.flush()
            content = create().model_dump(mode="json")
            record.status_code, record.body = status_code, content
    except IntegrityError:
        replayed = _replay(session, actor, key, fingerprint)
        if replayed is None:
            raise
        return replayed
    return JSONResponse(content, status_code=status_code)
