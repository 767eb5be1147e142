"""The API routes of a simple record (`taktline.records.SimpleRecord`), from its declaration:

    POST   /<plural>             create; 201, Idempotency-Key
    GET    /<plural>             a page, by cursor; the record's filters and `q`
    GET    /<plural>/{<kind>_id} one, with its ETag
    PATCH  /<plural>/{<kind>_id} a partial update, If-Match; the new ETag

Each route parses, calls the record's use case and shapes the answer; the use case decides
who may. The operations are named as hand-written routes would be (`create_item`,
`list_items`...), which is what the OpenAPI document and its clients see.
"""

import inspect
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, TypeVar, cast

from fastapi import APIRouter as FastAPIRouter
from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from taktline.api.deps import ActorDep, IfMatchDep, PageDep, set_etag
from taktline.api.idempotency import IdempotencyKey, create_idempotently
from taktline.api.routing import APIRouter
from taktline.http import SessionDep, encode_cursor
from taktline.records import SimpleRecord
from taktline.schemas import Page, SearchText

F = TypeVar("F", bound=Callable[..., Any])


def _signed(
    endpoint: F,
    annotations: Mapping[str, Any] | None = None,
    extra: Sequence[inspect.Parameter] = (),
) -> F:
    """FastAPI reads what a route parses from its endpoint's signature; a record's body
    schema, id and filters are known only when its router is made, so they are written
    into the signature here. `extra` stands in for the endpoint's **keywords."""
    signature = inspect.signature(endpoint)
    params = [
        p.replace(annotation=(annotations or {}).get(p.name, p.annotation))
        for p in signature.parameters.values()
        if p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    endpoint.__signature__ = signature.replace(parameters=[*params, *extra])  # type: ignore[attr-defined]
    return endpoint


def _query(name: str, annotation: Any, description: str | None = None) -> inspect.Parameter:
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[annotation | None, Query(description=description)],
    )


def records_router(record: SimpleRecord[Any, Any, Any]) -> FastAPIRouter:
    out, kind, plural = record.out, record.kind, record.plural
    id_name = f"{kind}_id"
    id_param = inspect.Parameter(id_name, inspect.Parameter.KEYWORD_ONLY, annotation=uuid.UUID)
    page_of: type[BaseModel] = cast(Any, Page)[out]
    filters = [_query(name, out.model_fields[name].annotation) for name in record.filters]
    if record.search is not None:
        filters.append(_query("q", SearchText, record.search.help))

    def create(
        body: BaseModel,
        request: Request,
        session: SessionDep,
        actor: ActorDep,
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        return create_idempotently(
            session,
            actor,
            request,
            key,
            body,
            lambda: out.model_validate(record.create(session, actor, body)),
        )

    def list_page(session: SessionDep, actor: ActorDep, paging: PageDep, **query: Any) -> Any:
        q = query.pop("q", None)
        rows, last = record.list_page(
            session, actor, after=paging.after, limit=paging.limit, q=q, filters=query
        )
        return page_of(
            items=[out.model_validate(r) for r in rows],
            next_cursor=encode_cursor(last) if last else None,
        )

    def get(response: Response, session: SessionDep, actor: ActorDep, **path: uuid.UUID) -> Any:
        found = record.get(session, actor, path[id_name])
        set_etag(response, found.version)
        return out.model_validate(found)

    def update(
        body: BaseModel,
        response: Response,
        session: SessionDep,
        actor: ActorDep,
        if_match: IfMatchDep,
        **path: uuid.UUID,
    ) -> Any:
        changed = record.update(session, actor, path[id_name], body, if_match)
        set_etag(response, changed.version)
        return out.model_validate(changed)

    router = APIRouter(prefix=f"/{plural}", tags=[plural])
    one = f"/{{{id_name}}}"
    router.add_api_route(
        "",
        _signed(create, {"body": record.create_body}),
        methods=["POST"],
        status_code=201,
        response_model=out,
        name=f"create_{kind}",
    )
    router.add_api_route(
        "",
        _signed(list_page, extra=filters),
        methods=["GET"],
        response_model=page_of,
        name=f"list_{plural.replace('-', '_')}",
    )
    router.add_api_route(
        one,
        _signed(get, extra=[id_param]),
        methods=["GET"],
        response_model=out,
        name=f"get_{kind}",
    )
    router.add_api_route(
        one,
        _signed(update, {"body": record.update_body}, [id_param]),
        methods=["PATCH"],
        response_model=out,
        name=f"update_{kind}",
    )
    return router
