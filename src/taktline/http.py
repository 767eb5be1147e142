"""What every web adapter (the API and the portal) shares: the database session of a
request, list cursors, reading a record version, checking a parameter parsed by hand with the
shared checks of taktline.schemas, and pydantic's errors as field errors."""

import base64
import binascii
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic_core import PydanticCustomError
from sqlalchemy.orm import Session

from taktline.errors import FieldError, ValidationProblem
from taktline.schemas import MAX_VERSION_NUMBER

T = TypeVar("T")


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session. Async, so that FastAPI runs it on the event loop rather than
    handing it to a worker thread on the way in and again on the way out: making a session
    touches no database, and neither does closing one with no transaction open (a route
    that ends its own, as the actions do, costs no thread at all)."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)  # a rollback: the database answers
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]
# A version number in a path (/boms/{id}/versions/{number}), within the database's integer.
VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION_NUMBER, description="A version number.")]


def parse_version(raw: str | None, loc: Sequence[str | int]) -> int | None:
    """A record version as sent back by a client: an ETag (`"3"`, `W/"3"`), a form's hidden
    `version` (`3`), or nothing (`None`, empty, `*`: no check). Anything else is refused,
    at `loc`, so that a malformed version never skips the optimistic lock."""
    if raw is None or raw.strip() in ("", "*"):
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    if not text.isascii() or not text.isdigit():
        raise ValidationProblem(
            [FieldError(list(loc), f'expected a version such as "3", got {raw!r}')]
        )
    return int(text)


def checked(check: Callable[[T], T], value: T, loc: Sequence[str | int]) -> T:
    """`value` through one of the checks the request schemas use (`refuse_nul`, `in_range`,
    `day_in_range` of taktline.schemas), for a parameter parsed by hand: its refusal is a
    ValidationProblem at `loc`, in the same words and type as a body field's."""
    try:
        return check(value)
    except PydanticCustomError as exc:
        raise ValidationProblem([FieldError(list(loc), exc.message(), exc.type)]) from None


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> uuid.UUID | None:
    if not cursor:
        return None
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        # validate: a character outside the alphabet (a NUL, a space) is refused, not skipped
        raw = base64.b64decode(padded, altchars=b"-_", validate=True)
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError):
        raise ValidationProblem(
            [FieldError(["query", "cursor"], "not a cursor returned by this list")]
        ) from None


def field_errors_of(raw: Sequence[Any]) -> list[FieldError]:
    """Pydantic's errors as our FieldErrors: where (`loc`) and what, in plain words."""
    errors = []
    for err in raw:
        loc = [p for p in err.get("loc", ()) if isinstance(p, str | int)]
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif err.get("type") == "missing":
            msg = "field required"
        errors.append(FieldError(loc, msg, str(err.get("type", "value_error"))))
    return errors
