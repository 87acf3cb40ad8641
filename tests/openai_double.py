"""A local double of OpenAI's Chat Completions API, served over real HTTP.

`POST /v1/chat/completions` answers the way OpenAI documents it: a `chat.completion`
JSON object, or with `stream: true` server-sent events (`data: {chat.completion.chunk}`
… `data: [DONE]`), text as `delta.content` pieces and tool calls as `delta.tool_calls`
pieces. Each test scripts the replies it wants (`double.script(...)`, served first in,
first out) or sets `double.default` for every request; a reply can also be an HTTP
error, a stall before the answer or in the middle of a stream, or a malformed body.
Every request body and its `Authorization` header are recorded.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.http_double import serve_in_thread

MODEL = "gpt-test-mini"
# Retries wait this long instead of OpenAI's usual half second or more.
FAST_RETRY = {"retry-after-ms": "10"}


@dataclass(frozen=True)
class ToolCall:
    name: str
    args: dict[str, Any]
    id: str = ""


@dataclass
class Reply:
    """One scripted answer. `text` may be a function of the request body (to answer from
    the tool results the client sent back)."""

    text: str | Callable[[dict[str, Any]], str] = ""
    pieces: list[str] | None = None  # how a streamed text is split (default: by word)
    tool_calls: list[ToolCall] = field(default_factory=list)
    status: int = 200
    error: str = "The server had an error"
    error_type: str = "server_error"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # before the response starts
    stall_before_piece: int | None = None  # a streamed reply stops before this piece…
    stall_s: float = 0.0  # …for this long
    raw: str | None = None  # a body sent as is (malformed JSON, a broken SSE stream)


@dataclass
class OpenAIDouble:
    default: Reply | None = None
    queue: deque[Reply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)

    def script(self, *replies: Reply) -> None:
        self.queue.extend(replies)

    def reset(self) -> None:
        self.default = None
        self.queue.clear()
        self.requests.clear()
        self.auth.clear()

    # -- the wire format ---------------------------------------------------------------

    @staticmethod
    def _tool_call_json(n: int, call: ToolCall) -> dict[str, Any]:
        return {
            "id": call.id or f"call_double_{n}",
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.args)},
        }

    def _completion(self, reply: Reply, text: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                self._tool_call_json(n, c) for n, c in enumerate(reply.tool_calls)
            ]
        return {
            "id": "chatcmpl-double",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }

    @staticmethod
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {
            "id": "chatcmpl-double",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    async def _events(self, reply: Reply, text: str) -> AsyncIterator[str]:
        yield self.chunk({"role": "assistant", "content": ""})
        pieces = reply.pieces if reply.pieces is not None else _words(text)
        for n, piece in enumerate(pieces):
            if reply.stall_before_piece == n:
                await asyncio.sleep(reply.stall_s)
            yield self.chunk({"content": piece})
        for n, call in enumerate(reply.tool_calls):
            whole = self._tool_call_json(n, call)
            arguments = whole["function"]["arguments"]
            half = len(arguments) // 2
            # The name and id first, the arguments in two pieces, as OpenAI streams them.
            yield self.chunk(
                {
                    "tool_calls": [
                        {"index": n, **whole, "function": {"name": call.name, "arguments": ""}}
                    ]
                }
            )
            for part in (arguments[:half], arguments[half:]):
                yield self.chunk({"tool_calls": [{"index": n, "function": {"arguments": part}}]})
        yield self.chunk({}, finish="tool_calls" if reply.tool_calls else "stop")
        yield "data: [DONE]\n\n"

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.auth.append(request.headers.get("authorization", ""))
        reply = self.queue.popleft() if self.queue else self.default
        if reply is None:
            reply = Reply(status=500, error="the double has no scripted reply left")
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status != 200:
            return JSONResponse(
                {"error": {"message": reply.error, "type": reply.error_type, "code": None}},
                status_code=reply.status,
                headers=reply.headers,
            )
        streamed = bool(body.get("stream"))
        media = "text/event-stream" if streamed else "application/json"
        if reply.raw is not None:
            return Response(reply.raw, media_type=media)
        text = reply.text(body) if callable(reply.text) else reply.text
        text = text or "".join(reply.pieces or [])
        if streamed:
            return StreamingResponse(self._events(reply, text), media_type=media)
        return JSONResponse(self._completion(reply, text))


def _words(text: str) -> list[str]:
    """`"a b c"` → `["a", " b", " c"]`, the way tokens arrive."""
    words = text.split(" ")
    return [w if n == 0 else f" {w}" for n, w in enumerate(words)] if text else []


def serve_openai_double() -> Iterator[tuple[OpenAIDouble, str]]:
    """Yield the double and its base URL (`…/v1`, what `base_url` takes) while it serves."""
    double = OpenAIDouble()
    app = Starlette(routes=[Route("/v1/chat/completions", double.completions, methods=["POST"])])
    with serve_in_thread(app, name="OpenAI double") as url:
        yield double, f"{url}/v1"


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool results a request sent back to the model."""
    return [m for m in body["messages"] if m["role"] == "tool"]


def system_text(body: dict[str, Any]) -> str:
    first = body["messages"][0]
    assert first["role"] in ("system", "developer"), first
    content = first["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content)
