"""The portal's action routes, made from the orders' action registry as the API's are.

One POST per action (a line item's under its line item): its form is read with the one form
path (the hidden version through taktline.http, the fields into the action's body schema),
and the registry's use case runs it, which checks who may act. Each screen mounts the
actions it offers under its own path and says where to go next; none dispatches by itself.
"""

import inspect
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from taktline.errors import Problem
from taktline.http import SessionDep
from taktline.orders.registry import Action
from taktline.portal import forms
from taktline.portal.web import FormDep, PortalUser, UserDep


@dataclass(frozen=True)
class Attempt:
    """An action as posted: which one, the ids of its path, and the form as it came."""

    action: Action
    ids: Mapping[str, uuid.UUID]
    posted: Mapping[str, str]
    record_param: str

    @property
    def record_id(self) -> uuid.UUID:
        return self.ids[self.record_param]

    @property
    def line_item_id(self) -> uuid.UUID | None:
        return self.ids.get("line_item_id")


# What a screen does after an action: where to go (taken), or the page again (refused).
Taken = Callable[[Session, Attempt, Any, BaseModel | None], Response]
Refused = Callable[[Request, Session, PortalUser, Attempt, Problem], Response]


def take(
    session: Session, user: PortalUser, attempt: Attempt, fields: dict[str, str]
) -> tuple[Any, BaseModel | None]:
    """Runs the action from its form: the record it changed, and the body it was given."""
    action = attempt.action
    version = forms.read_version(fields)
    body = forms.parse(action.body, fields, user.zone)
    record = action.run(session, user.actor, attempt.record_id, attempt.line_item_id, body, version)
    return record, body


def _endpoint(
    action: Action, names: list[str], record_param: str, taken: Taken, refused: Refused
) -> Callable[..., Response]:
    def endpoint(**kwargs: Any) -> Response:
        request: Request = kwargs["request"]
        session: Session = kwargs["session"]
        user: PortalUser = kwargs["user"]
        fields: dict[str, str] = kwargs["fields"]
        attempt = Attempt(action, {n: kwargs[n] for n in names}, dict(fields), record_param)
        try:
            record, body = take(session, user, attempt, fields)
        except Problem as problem:
            return refused(request, session, user, attempt, problem)
        return taken(session, attempt, record, body)

    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter(n, keyword, annotation=uuid.UUID) for n in names]
    params += [
        inspect.Parameter("request", keyword, annotation=Request),
        inspect.Parameter("session", keyword, annotation=SessionDep),
        inspect.Parameter("user", keyword, annotation=UserDep),
        inspect.Parameter("fields", keyword, annotation=FormDep),
    ]
    endpoint.__signature__ = inspect.Signature(params, return_annotation=Response)  # type: ignore[attr-defined]
    return endpoint


def add_action_routes(
    router: APIRouter,
    actions: Iterable[Action],
    base: str,
    record_param: str,
    taken: Taken,
    refused: Refused,
) -> None:
    """POST `base`/<action> for each action, `base`/line-items/{line_item_id}/<action> for a
    line item's; `base` names the record's id as `record_param` (and may hold other ids)."""
    names = re.findall(r"{(\w+)}", base)
    for action in actions:
        path, ids = base, list(names)
        if action.on_line_item:
            path, ids = f"{path}/line-items/{{line_item_id}}", [*ids, "line_item_id"]
        router.add_api_route(
            f"{path}/{action.name}",
            _endpoint(action, ids, record_param, taken, refused),
            methods=["POST"],
            name=f"{base}:{action.name}",
        )
