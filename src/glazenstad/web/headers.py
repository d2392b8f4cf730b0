"""Headers every response carries: the API version on the API, security headers everywhere.

A plain ASGI middleware rather than Starlette's `@app.middleware("http")`: that wrapper runs
each request in a task of its own and streams the response through a memory channel, work on
every request for what is only adding headers to the response's first message.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glazenstad.web.api.v1.common import API_PREFIX, API_VERSION

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
    # Browsers honour it only over HTTPS, where the platform belongs (NL API Design Rules).
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
"""Set on every response unless the route set the header itself (static files say how long
they may be cached, for example)."""


class ResponseHeaders:
    """Adds `API-Version` to API responses and `SECURITY_HEADERS` to all HTTP responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith(API_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if api:
                    headers["API-Version"] = API_VERSION
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
