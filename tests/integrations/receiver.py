"""A local webhook receiver (real HTTP on 127.0.0.1) that records what it gets and
answers as told: a status code, or silence longer than the sender waits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.http_double import serve_in_thread


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    base: str = ""
    answers: list[int] = field(default_factory=list)  # next answers; then 200
    hang_s: float = 0.0  # wait this long before answering (a slow receiver)
    got: list[Received] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        return f"{self.base}{path}"


@contextlib.contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    async def hook(request: Request) -> Response:
        state.got.append(Received(dict(request.headers), await request.body()))
        if state.hang_s:
            await asyncio.sleep(state.hang_s)
        code = state.answers.pop(0) if state.answers else 200
        return Response("ok" if code < 300 else "nope", status_code=code)

    app = Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])
    with serve_in_thread(app, name="webhook receiver") as base:
        state.base = base
        yield state
