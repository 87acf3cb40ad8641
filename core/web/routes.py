"""The route class for routers that serve pages.

- A dependency that turns a request away raises `Refusal(response)`: the response is
  what the client gets (a redirect to sign in, a 403 page, a 404), and the handler
  never runs. A handler's signature therefore only ever names what it needs (an
  `Actor`, a checked transaction), never `Actor | Response`.
- A form that does not fit its model (`Annotated[Model, Form()]`: a field too long,
  a file where text was expected) is answered with a 400 page naming the fields,
  instead of FastAPI's 422 JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import Response

from core.web.pages import CORE_TEMPLATES, Page


class Refusal(Exception):
    """Raised by a dependency: answer the request with `response` instead."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def form_problems(exc: RequestValidationError) -> str:
    """One sentence per field that could not be read, for a person to act on."""
    lines = []
    for error in exc.errors():
        where = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        name = where[-1].replace("_", " ") if where else "the form"
        lines.append(f"{name.capitalize()}: {error.get('msg', 'not valid')}.")
    return " ".join(lines) or "The form could not be read."


def unreadable_form(request: Request, exc: RequestValidationError) -> Response:
    return Page(CORE_TEMPLATES, request).message(
        400,
        "Please check the form",
        form_problems(exc),
        link=request.url.path if request.method == "POST" else None,
        link_label="Back to the form",
    )


class PageRoute(APIRoute):
    """`APIRouter(route_class=PageRoute)`: refusals and unreadable forms as pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Refusal as refusal:
                return refusal.response
            except RequestValidationError as exc:
                return unreadable_form(request, exc)

        return handle
