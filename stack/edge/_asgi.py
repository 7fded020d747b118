"""The little of ASGI the edge needs: reading a request body and sending a reply."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


@dataclass
class Reply:
    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    # A streamed body (proxied responses) replaces `body`; `close` runs once it is sent or abandoned.
    stream: AsyncIterator[bytes] | None = None
    close: Callable[[], Awaitable[None]] | None = None


async def read_body(receive: Receive, *, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_reply(send: Send, reply: Reply, *, head_only: bool = False) -> None:
    try:
        await send({"type": "http.response.start", "status": reply.status, "headers": reply.headers})
        if reply.stream is not None:
            async for chunk in reply.stream:
                if chunk and not head_only:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        else:
            body = b"" if head_only else reply.body
            await send({"type": "http.response.body", "body": body, "more_body": False})
    finally:
        if reply.close is not None:
            await reply.close()


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
