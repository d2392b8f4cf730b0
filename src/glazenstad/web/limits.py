"""Request limits: the largest body a request may carry, and how often logins and searches may
be tried.

Both are checked before any route runs, so an oversized body is never read into memory and a
password-guessing or scraping client is slowed down before it costs a database query. The API
answers problem+json (413, 429 with `Retry-After`); the portal answers a Dutch page.

Rate limits count per client address in a moving window. The counters live in this process by
default (`memory://`); several server processes behind one address share them through Redis
(`GLAZENSTAD_RATE_LIMIT_STORAGE=redis://...`), which the `limits` library supports as well.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glazenstad.web.problems import problem_response

LOGIN_PATHS = ("/inloggen", "/medewerkers/inloggen")
"""Forms where somebody proves who they are: each POST is a login attempt."""
SSO_PATHS = (
    "/medewerkers/inloggen/sso",
    "/medewerkers/inloggen/terug",
    "/inloggen/digid",
    "/inloggen/terug",
)
"""Single sign-on addresses (start and return): every request is a login attempt."""


class BodyTooLarge(Exception):
    """Raised inside `receive` when a streamed body passes the limit."""


def _refusal(scope: Scope, status: int, detail: str, headers: dict[str, str]) -> Response:
    request = Request(scope)
    path = request.url.path
    if path.startswith("/api/") or path.startswith("/v1/"):
        return problem_response(request, status, detail, headers=headers)
    from glazenstad.web.portal import error_page  # the portal imports the web layer

    response = error_page(request, status, detail)
    response.headers.update(headers)
    return response


class BodyLimit:
    """Refuse (413) a request whose body is larger than `max_bytes`.

    A declared Content-Length is checked before reading; a chunked body is counted while it
    streams in and refused as soon as it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _detail(self) -> str:
        mib = self.max_bytes / (1024 * 1024)
        return (
            f"De aanvraag is groter dan {mib:g} MiB ({self.max_bytes} bytes). Stuur minder "
            "tegelijk, bijvoorbeeld kleinere batches."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _refusal(scope, 413, self._detail(), {"Connection": "close"})(
                scope, receive, send
            )
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception as exc:
            # Middleware that runs the app in a task group hands it on inside an ExceptionGroup.
            too_large = isinstance(exc, BodyTooLarge) or (
                isinstance(exc, ExceptionGroup) and exc.subgroup(BodyTooLarge) is not None
            )
            if started or not too_large:
                raise
            await _refusal(scope, 413, self._detail(), {"Connection": "close"})(
                scope, receive, send
            )


@dataclass(frozen=True)
class RateLimits:
    """How often a client address may try to log in and search."""

    login: str = "10/minute"
    search: str = "120/minute"
    storage: str = "memory://"


class RateLimit:
    """Refuse (429, with Retry-After) logins and searches beyond their limit per client address."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.login: RateLimitItem = parse(limits.login)
        self.search: RateLimitItem = parse(limits.search)
        self.limiter = MovingWindowRateLimiter(storage_from_string(limits.storage))

    def _kind(self, scope: Scope) -> tuple[str, RateLimitItem] | None:
        path: str = scope["path"]
        if (scope["method"] == "POST" and path.startswith(LOGIN_PATHS)) or (
            SSO_PATHS and path.startswith(SSO_PATHS)
        ):
            return "login", self.login
        if scope["method"] == "GET" and _has_search(scope.get("query_string", b"")):
            return "search", self.search
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = self._kind(scope)
        if kind is not None:
            name, item = kind
            client = (scope.get("client") or ("unknown", 0))[0]
            if not self.limiter.hit(item, name, client):
                reset, _ = self.limiter.get_window_stats(item, name, client)
                wait = max(1, math.ceil(reset - time.time()))
                what = "inlogpogingen" if name == "login" else "zoekvragen"
                detail = (
                    f"Te veel {what} vanaf dit adres ({item.amount} per "
                    f"{item.GRANULARITY.name}). Probeer het over {wait} seconden opnieuw."
                )
                await _refusal(scope, 429, detail, {"Retry-After": str(wait)})(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _has_search(query_string: bytes) -> bool:
    """A request with a non-empty free-text search (`q=`): the one query a scraper repeats."""
    for part in query_string.split(b"&"):
        name, _, value = part.partition(b"=")
        if name == b"q" and value.strip(b"+ "):
            return True
    return False
