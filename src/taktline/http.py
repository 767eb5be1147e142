"""What every web adapter (the API and the portal) shares: the database session of a
request, list cursors, reading a record version, and pydantic's errors as field errors."""

import base64
import binascii
import uuid
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from taktline.errors import FieldError, ValidationProblem


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


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
