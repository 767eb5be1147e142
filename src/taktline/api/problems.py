"""Renders every error as application/problem+json (RFC 9457)."""

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from taktline.errors import (
    Conflict,
    InternalError,
    MalformedRequest,
    Problem,
    ValidationProblem,
)
from taktline.http import field_errors_of

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None
    return JSONResponse(
        problem.to_body(instance=request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _from_validation(exc: RequestValidationError) -> Problem:
    raw: list[dict[str, Any]] = list(exc.errors())
    bad_json = next((e for e in raw if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        ctx = bad_json.get("ctx") or {}
        where = bad_json.get("loc", ("body", 0))[-1]
        return MalformedRequest(
            f"The body is not valid JSON near position {where}: {ctx.get('error', 'invalid')}."
        )
    return ValidationProblem(field_errors_of(exc.errors()))


HtmlRenderer = Callable[[Request, Problem], Response]


def install(app: FastAPI, html: HtmlRenderer | None = None) -> None:
    """Problems become problem+json under the API, and pages (via `html`) elsewhere."""

    def respond(request: Request, problem: Problem) -> Response:
        if html is not None and not request.url.path.startswith("/api/"):
            return html(request, problem)
        return problem_response(problem, request)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return respond(request, _from_validation(exc))

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> Response:
        return respond(
            request,
            Conflict("The record was changed by someone else at the same time; reload it."),
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        # The service checks every rule first; reaching here means a concurrent writer won
        # a race that only the database could see (a unique key, a booking overlap).
        log.info("integrity error: %s", exc.orig)
        return respond(
            request, Conflict("The change conflicts with another change made at the same time.")
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # A bug, not the user's doing: logged with its traceback, answered without it.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return respond(
            request, InternalError("Something went wrong on the server; it has been logged.")
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:
            # FastAPI's word for a body that is not UTF-8 or otherwise unreadable.
            return respond(request, MalformedRequest(f"The body could not be read: {exc.detail}."))
        problem = Problem(str(exc.detail))
        problem.status = exc.status_code
        problem.title = {404: "Not found", 405: "Method not allowed"}.get(
            exc.status_code, "HTTP error"
        )
        problem.type_slug = {404: "not-found", 405: "method-not-allowed"}.get(
            exc.status_code, "http-error"
        )
        return respond(request, problem)
