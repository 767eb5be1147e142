"""Request and response bodies of the API tokens endpoints."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from taktline.auth.service import MAX_EXPIRES_IN_DAYS, TokenState, TokenView, expiry_of
from taktline.schemas import RequestBody, ResponseBody, Timestamp

# One @, no spaces or control characters: enough to find a user by it, which is all it does.
EMAIL_PATTERN = r"^[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+$"
Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=320, pattern=EMAIL_PATTERN, strip_whitespace=True),
]


class TokenCreate(RequestBody):
    """A token for a user of the organisation: by `user_id` or by `email` (one of them). It
    never expires unless `expires_at` or `expires_in_days` (one of them) says when."""

    user_id: uuid.UUID | None = None
    email: Email | None = Field(default=None, validate_default=True)
    expires_at: Timestamp | None = Field(
        default=None, description="When it stops answering; in the future, with an offset."
    )
    expires_in_days: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=MAX_EXPIRES_IN_DAYS,
        validate_default=True,
        description="It stops answering this many days from now.",
    )

    @field_validator("email")
    @classmethod
    def _one_user(cls, email: str | None, info: ValidationInfo) -> str | None:
        given_id = info.data.get("user_id") is not None
        if email is not None and given_id:
            raise ValueError("give user_id or email, not both")
        if email is None and not given_id and "user_id" in info.data:
            raise ValueError("give the user's email (or user_id)")
        return email

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None:
            expiry_of(value, None)  # raises "must be in the future"
        return value

    @field_validator("expires_in_days")
    @classmethod
    def _one_expiry(cls, days: int | None, info: ValidationInfo) -> int | None:
        if days is not None and info.data.get("expires_at") is not None:
            raise ValueError("give expires_at or expires_in_days, not both")
        return days

    def expiry(self) -> datetime | None:
        return expiry_of(self.expires_at, self.expires_in_days)


class TokenOut(ResponseBody):
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    role: str
    prefix: str = Field(description="Its first characters, to tell it apart; never the secret.")
    state: TokenState = Field(description="active, expired or revoked.")
    created_at: datetime
    expires_at: datetime | None = Field(description="Null: it never expires.")
    last_used_at: datetime | None = Field(description="To the hour; null: never used.")
    revoked_at: datetime | None

    @classmethod
    def of(cls, view: TokenView) -> "TokenOut":
        token = view.token
        return cls(
            id=token.id,
            user_id=view.user.id,
            email=view.user.email,
            role=view.user.role,
            prefix=token.prefix,
            state=view.state,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


class TokenCreated(TokenOut):
    token: str = Field(description="The bearer token itself: shown in this answer only.")
