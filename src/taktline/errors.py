"""The problem types (RFC 9457) that every layer raises and every front end renders.

A service raises one of these; the API renders it as application/problem+json and the
portal as a message next to the form. The `type` of each is stable: clients may rely on it.
"""

from collections.abc import Sequence
from typing import Any


class Problem(Exception):
    """A failure the user can act on. Subclasses fix the type, title and status."""

    type_slug = "about:blank"
    title = "Problem"
    status = 400

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    @property
    def type(self) -> str:
        return f"/problems/{self.type_slug}"

    def to_body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


# Where in a request something is: a JSON path, as the API's problem bodies give it.
Loc = Sequence[str | int]


class FieldError(dict[str, Any]):
    """One offending field: where (`loc`, a JSON path as a list) and what is wrong (`msg`)."""

    def __init__(self, loc: Loc, msg: str, type: str = "value_error") -> None:
        super().__init__(loc=list(loc), msg=msg, type=type)


class ValidationProblem(Problem):
    type_slug = "validation-error"
    title = "The request is not valid"
    status = 422

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        if detail is None:
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        super().__init__(detail, errors=list(errors))


class MalformedRequest(Problem):
    type_slug = "malformed-request"
    title = "The request body could not be read"
    status = 400


class Unauthorized(Problem):
    type_slug = "unauthorized"
    title = "Authentication required"
    status = 401


class Forbidden(Problem):
    type_slug = "forbidden"
    title = "Not allowed for this role"
    status = 403


class NotFound(Problem):
    type_slug = "not-found"
    title = "Not found"
    status = 404

    def __init__(self, kind: str, id: object) -> None:
        super().__init__(f"No {kind} with id {id}.")


class Conflict(Problem):
    type_slug = "conflict"
    title = "Conflict with the current state"
    status = 409


class InvalidTransition(Conflict):
    """An action that the lifecycle refuses from the record's current state."""

    type_slug = "invalid-transition"
    title = "Action not allowed in the current state"

    def __init__(
        self,
        kind: str,
        number: str,
        action: str,
        state: str,
        allowed_actions: Sequence[str],
        reason: str | None = None,
    ) -> None:
        allowed = ", ".join(allowed_actions) or "none"
        why = reason or f"{action} is not allowed from {state}"
        super().__init__(
            f"Cannot {action} {kind} {number}: {why}. It is {state}; allowed now: {allowed}.",
            current_state=state,
            action=action,
            allowed_actions=list(allowed_actions),
        )


class BookingConflict(Conflict):
    type_slug = "booking-conflict"
    title = "A resource would be booked beyond its capacity"


class Unschedulable(Problem):
    """Work the scheduler cannot place: names the work order, line item and reason."""

    type_slug = "unschedulable"
    title = "The work cannot be scheduled"
    status = 422


class PreconditionFailed(Problem):
    type_slug = "version-mismatch"
    title = "The record has changed since it was read"
    status = 412


class PayloadTooLarge(Problem):
    type_slug = "payload-too-large"
    title = "The request body is too large"
    status = 413


class IdempotencyKeyReused(Problem):
    type_slug = "idempotency-key-reused"
    title = "The Idempotency-Key was used for another request"
    status = 422


class TooManyRequests(Problem):
    type_slug = "too-many-attempts"
    title = "Too many attempts"
    status = 429


class InternalError(Problem):
    type_slug = "internal-error"
    title = "Internal error"
    status = 500
