"""The OpenAPI document: FastAPI's, with every problem response each operation can give.

FastAPI documents an operation's success and a 422 in its own validation shape; the API
answers its errors as application/problem+json (RFC 9457, see `taktline.errors` and
`api/problems.py`). `with_problems` documents those instead, from what the document already
says about each operation:

| status | documented on |
| --- | --- |
| 400 | operations with a request body (one that is not JSON, or not UTF-8) |
| 401 | operations that need a token |
| 403 | operations that need a token (whose role may act is `permissions.py`'s to say) |
| 404 | operations with ids in the path; those whose body names the work to schedule |
| 409 | operations that change something (the lifecycle, capacity, a concurrent change) |
| 412 | operations that take `If-Match`; applying a proposal |
| 413 | every POST, PUT, PATCH and DELETE (the body limit comes before anything else) |
| 422 | operations with parameters or a body |
| 429 | previewing and applying a schedule (one solve per organisation at a time) |

`EXTRA_STATUSES` holds what the document cannot tell (bodies that name records by id, the
solver's one slot); a router may also declare a problem status in its `responses`.

The schemas are `Problem` and `ValidationProblem` (a Problem with `errors`, a list of
`FieldError`); FastAPI's `HTTPValidationError` is gone.
"""

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI

from taktline import errors
from taktline.api.problems import PROBLEM_JSON

Document = dict[str, Any]

_SCHEMAS = "#/components/schemas/"
_RESPONSES = "#/components/responses/"

PROBLEM_SCHEMA: Document = {
    "title": "Problem",
    "description": (
        "An error, as RFC 9457 problem details. `type` is stable (`/problems/<slug>`): "
        "clients may rely on it. Some types carry more members (an invalid transition: "
        "`current_state`, `action`, `allowed_actions`)."
    ),
    "type": "object",
    "properties": {
        "type": {"type": "string", "description": "What kind of problem: `/problems/<slug>`."},
        "title": {"type": "string", "description": "The same for every problem of the type."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong here, in plain words."},
        "instance": {"type": "string", "description": "The path of the request."},
    },
    "required": ["type", "title", "status", "detail"],
    "additionalProperties": True,
}

FIELD_ERROR_SCHEMA: Document = {
    "title": "FieldError",
    "description": "One offending field of a request.",
    "type": "object",
    "properties": {
        "loc": {
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "description": 'Where: a path such as `["body", "line_items", 0, "quantity"]`.',
        },
        "msg": {"type": "string", "description": "What is wrong, in plain words."},
        "type": {"type": "string", "description": "A code for what is wrong."},
    },
    "required": ["loc", "msg", "type"],
}

VALIDATION_PROBLEM_SCHEMA: Document = {
    "title": "ValidationProblem",
    "description": (
        "A request that is not valid. A `/problems/validation-error` lists each offending "
        "field in `errors`; an `/problems/unschedulable` names the work that cannot be placed "
        "and why; an `/problems/idempotency-key-reused` says the key was used for another body."
    ),
    "allOf": [{"$ref": f"{_SCHEMAS}Problem"}],
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "items": {"$ref": f"{_SCHEMAS}FieldError"},
            "description": "Present on a validation-error: one entry per offending field.",
        }
    },
}

HEALTH_SCHEMA: Document = {
    "title": "Health",
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "database": {"type": "string", "enum": ["ok", "unreachable"]},
    },
    "required": ["status", "database"],
}


_WORK_ORDER_ID = "0b8e9a4c-4a40-4a57-9a51-1c1f0a7d2e11"


def _problem(
    description: str,
    example: errors.Problem,
    schema: str = "Problem",
    instance: str = f"/api/v1/work-orders/{_WORK_ORDER_ID}/start",
    **more: Any,
) -> Document:
    return {
        "description": description,
        "content": {
            PROBLEM_JSON: {
                "schema": {"$ref": f"{_SCHEMAS}{schema}"},
                "example": example.to_body(instance=instance),
            }
        },
        **more,
    }


class _ScheduleBusy(errors.TooManyRequests):
    # as scheduling.solving.SolverBusy answers it
    type_slug = "schedule-busy"
    title = "Another schedule is being solved"


# status -> (component name, the response)
PROBLEM_RESPONSES: Mapping[int, tuple[str, Document]] = {
    400: (
        "MalformedRequest",
        _problem(
            "`malformed-request`: the body is not JSON, or not UTF-8.",
            errors.MalformedRequest(
                "The body is not valid JSON near position 17: Expecting ',' delimiter."
            ),
        ),
    ),
    401: (
        "Unauthorized",
        _problem(
            "`unauthorized`: no token, or one that is unknown or revoked.",
            errors.Unauthorized("Send an API token as `Authorization: Bearer <token>`."),
            headers={
                "WWW-Authenticate": {
                    "description": "`Bearer`",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
        ),
    ),
    403: (
        "Forbidden",
        _problem(
            "`forbidden`: the token's role may not do this.",
            errors.Forbidden("The viewer role may not start work orders."),
        ),
    ),
    404: (
        "NotFound",
        _problem(
            "`not-found`: no such record in the organisation (another organisation's records "
            "answer the same).",
            errors.NotFound("work order", _WORK_ORDER_ID),
        ),
    ),
    409: (
        "Conflict",
        _problem(
            "`invalid-transition` (the lifecycle refuses the action from the current state, "
            "with `current_state` and `allowed_actions`), `booking-conflict` (beyond a "
            "resource's capacity) or `conflict` (another rule, or a change made at the same "
            "time).",
            errors.InvalidTransition(
                "work order", "WO-000042", "start", "DRAFT", ["schedule", "cancel", "delete"]
            ),
        ),
    ),
    412: (
        "PreconditionFailed",
        _problem(
            "`version-mismatch`: the record changed since the version sent in If-Match.",
            errors.PreconditionFailed(
                "WO-000042 is at version 4, not 3: someone changed it since you read it. "
                "Reload and try again.",
                current_version=4,
            ),
        ),
    ),
    413: (
        "PayloadTooLarge",
        _problem(
            "`payload-too-large`: the body is over the size limit.",
            errors.PayloadTooLarge("The request body is larger than 1048576 bytes."),
        ),
    ),
    429: (
        "TooManyRequests",
        _problem(
            "`schedule-busy`: the organisation is solving another schedule; try again after "
            "`Retry-After` seconds.",
            _ScheduleBusy(
                "Another schedule is being solved for your organisation; try again in a moment.",
                retry_after_seconds=5,
            ),
            instance="/api/v1/schedule/preview",
            headers={
                "Retry-After": {
                    "description": "Seconds to wait before trying again.",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                }
            },
        ),
    ),
    422: (
        "UnprocessableContent",
        _problem(
            "`validation-error` (with `errors`), `unschedulable` or `idempotency-key-reused`.",
            errors.ValidationProblem(
                [errors.FieldError(["body", "quantity"], "Input should be greater than 0")]
            ),
            "ValidationProblem",
        ),
    ),
}

_WRITES = frozenset({"post", "put", "patch", "delete"})
_METHODS = frozenset({"get", *_WRITES})


# What the document cannot tell: bodies that name records by id. (method, path) -> statuses
EXTRA_STATUSES: Mapping[tuple[str, str], frozenset[int]] = {
    # The work orders and production orders named to schedule must exist.
    # One solve per organisation at a time (scheduling/solving.py).
    ("post", "/api/v1/schedule/preview"): frozenset({404, 429}),
    # A proposal sent back names work orders, at the versions it was made from.
    ("post", "/api/v1/schedule/apply"): frozenset({404, 412, 429}),
}


def problem_statuses(method: str, path: str, operation: Document) -> set[int]:
    """The problem statuses an operation can answer, from what the document says of it."""
    params = operation.get("parameters", [])
    locations = {p["in"] for p in params}
    headers = {p["name"].lower() for p in params if p["in"] == "header"}
    has_body = "requestBody" in operation
    statuses: set[int] = set()
    if has_body:
        statuses.add(400)
    if operation.get("security"):
        # Who may is decided by the use case, from the permissions table, which no route
        # can see (and which may change): any operation with a token may be refused.
        statuses |= {401, 403}
    if "path" in locations:
        statuses.add(404)
    if method in _WRITES:
        statuses |= {409, 413}
    if "if-match" in headers:
        statuses.add(412)
    if params or has_body:
        statuses.add(422)
    return statuses | EXTRA_STATUSES.get((method, path), frozenset())


def _operations(document: Document) -> list[tuple[str, str, Document]]:
    return [
        (method, path, operation)
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if method in _METHODS
    ]


def with_problems(document: Document, health_path: str | None = None) -> Document:
    """The document with the problem responses of every operation (in place, and returned)."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(
        Problem=PROBLEM_SCHEMA,
        FieldError=FIELD_ERROR_SCHEMA,
        ValidationProblem=VALIDATION_PROBLEM_SCHEMA,
    )
    responses = components.setdefault("responses", {})
    for name, response in PROBLEM_RESPONSES.values():
        responses[name] = response
    for method, path, operation in _operations(document):
        answers = operation.setdefault("responses", {})
        answers.pop("422", None)  # FastAPI's, in its own shape
        # A router may declare a problem it can answer (`responses={429: {}}`): it is
        # documented in the problem shape like the others.
        declared = {int(s) for s in answers if s.isdigit() and int(s) in PROBLEM_RESPONSES}
        for status in sorted(problem_statuses(method, path, operation) | declared):
            name, _ = PROBLEM_RESPONSES[status]
            answers[str(status)] = {"$ref": f"{_RESPONSES}{name}"}
        operation["responses"] = dict(sorted(answers.items()))
    if health_path is not None and health_path in document.get("paths", {}):
        _document_health(document["paths"][health_path]["get"], schemas)
    return document


def _document_health(operation: Document, schemas: Document) -> None:
    schemas["Health"] = HEALTH_SCHEMA
    body = {"application/json": {"schema": {"$ref": f"{_SCHEMAS}Health"}}}
    operation["responses"] = {
        "200": {"description": "The server and its database are up.", "content": body},
        "503": {"description": "The database cannot be reached.", "content": body},
    }


def install(app: FastAPI, health_path: str | None = None) -> None:
    """Serve FastAPI's document with the problem responses added (built once, on first use)."""
    build: Callable[[], Document] = app.openapi

    def openapi() -> Document:
        if app.openapi_schema is None:
            app.openapi_schema = with_problems(build(), health_path)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
