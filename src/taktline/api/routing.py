"""The API's router class: JSON bodies are read with exact decimals.

Python's json reads 123456789012.123456 as a float, which has lost digits before any
schema sees it; quantities must arrive exactly as sent, so numbers with a fraction or an
exponent are read as Decimal (the schemas still decide what each field accepts).
"""

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from functools import partial
from typing import Any

from fastapi import APIRouter as _FastAPIRouter
from fastapi import Request, Response
from fastapi.routing import APIRoute


class ExactJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


class ExactJSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handler(ExactJSONRequest(request.scope, request.receive))

        return exact


APIRouter = partial(_FastAPIRouter, route_class=ExactJSONRoute)
