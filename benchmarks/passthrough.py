"""A reverse proxy that does nothing but forward: the ceiling of a gateway on this stack.

    .venv/bin/python -m benchmarks.passthrough --upstream http://127.0.0.1:8100 --port 8200

The gateway's HTTP server (uvicorn, with uvloop and httptools as installed) and its HTTP client
(the gateway's own pooled aiohttp session, `upstream_session`), with no identity, no decision,
no obligations and no log: each GET is sent upstream and its answer streamed back. Whatever a
gateway on this stack adds, it cannot be faster than this on the same machine, so the execution
benchmark measures it beside the gateway: the share of direct throughput this forwarder
reaches bounds the share any gateway built from these parts can reach.
"""

from __future__ import annotations

import argparse

import aiohttp
import uvicorn

from glazenstad.execution.gateway.app import Receive, Scope, Send, upstream_session

_DROP_REQUEST = frozenset(
    {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}
)
_DROP_RESPONSE = frozenset({"connection", "keep-alive", "transfer-encoding"})


class Passthrough:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self._client: aiohttp.ClientSession | None = None

    def client(self) -> aiohttp.ClientSession:
        if self._client is None:
            self._client = upstream_session(timeout=30.0)
        return self._client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        target = self.upstream + scope["path"]
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1") not in _DROP_REQUEST
        ]
        async with self.client().request(scope["method"], target, headers=headers) as answer:
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status,
                    "headers": [
                        (k, v)
                        for k, v in answer.raw_headers
                        if k.decode("latin-1").lower() not in _DROP_RESPONSE
                    ],
                }
            )
            async for chunk in answer.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(Passthrough(args.upstream), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
