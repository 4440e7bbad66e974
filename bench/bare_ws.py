"""The baseline of the streaming benchmark: a bare Starlette websocket that speaks
just enough graphql-transport-ws to send the same frames our server sends, one
ReplyDelta frame per token (``idle``: the frames, then nothing until the client
leaves)."""

from __future__ import annotations

import asyncio
import json

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket


async def endpoint(websocket: WebSocket) -> None:
    await websocket.accept(subprotocol="graphql-transport-ws")
    await websocket.receive_text()  # connection_init
    await websocket.send_text('{"type":"connection_ack"}')
    message = json.loads(await websocket.receive_text())
    op, mode = message["id"], message["payload"]["query"]
    variables = message["payload"]["variables"]
    delay = 1 / variables["pace"] if mode == "paced" else 0
    for seq in range(1, variables["tokens"] + 1):
        frame = {
            "id": op,
            "type": "next",
            "payload": {
                "data": {"messageStream": {"__typename": "ReplyDelta", "seq": seq, "text": "word "}}
            },
        }
        await websocket.send_text(json.dumps(frame))
        await asyncio.sleep(delay)
    if mode != "idle":  # an idle subscription stays open until the client leaves
        await websocket.send_text(json.dumps({"id": op, "type": "complete"}))
    try:
        await websocket.receive_text()
    except Exception:  # the client closed
        return


app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
