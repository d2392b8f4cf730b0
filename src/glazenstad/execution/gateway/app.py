"""The gateway: an HTTP reverse proxy that decides, enforces and logs every access to a source.

Common Ground's "data at the source": applications do not copy data, they fetch it from the
source API when they need it, through this gateway. Per request:

1. the caller is identified by its token (an actor: role, department, case assignments) and
   names its purpose, a processing activity of the register (`Glazenstad-Purpose`);
2. the route says which dataset, data category and data subject the request is about; the
   engine decides, also for every other data category the answer's fields hold;
3. a denial is answered with problem+json carrying the rule's explanation; a permit is
   forwarded with W3C `traceparent`, and the permit's obligations are applied to the answer
   (fields dropped or pseudonymised; fields of denied categories dropped);
4. one LDV log record per data subject, with the decision id, is committed before the answer
   is sent. If the logbook cannot store it, the caller gets 503 and no data.

An answer that needs no rewriting and no subjects from its body is streamed through unread.
The gateway is a plain ASGI application, not FastAPI: it has no API of its own to describe,
and per-request framework work would count against the source's throughput.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from glazenstad.db.engine import make_engine, migrate
from glazenstad.execution.gateway.config import (
    PATH_PARAMETER,
    Client,
    CompiledRoute,
    GatewayConfig,
    GatewayConfigError,
    load_gateway_config,
)
from glazenstad.execution.gateway.logwriter import GatewayLog, LogWriteError
from glazenstad.execution.gateway.obligations import Applied, ResponsePlan, apply_plan, plan_for
from glazenstad.execution.gateway.trace import parse_traceparent, traceparent
from glazenstad.heap import freeze_startup_heap
from glazenstad.logbook.record import LogRecord
from glazenstad.logbook.store import LogStore
from glazenstad.logbook.traceids import new_span_id, new_trace_id
from glazenstad.register.model import KIND_ACTIVITY, entry_uri
from glazenstad.register.store import OrganisationRegister, RegisterStore
from glazenstad.register.yamlsource import Problem
from glazenstad.rules.engine import Decision
from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource
from glazenstad.rules.service import RulesService
from glazenstad.rules.store import PolicyStore
from glazenstad.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PURPOSE_HEADER = "glazenstad-purpose"
# NLX, the Common Ground predecessor of FSC, named the purpose this way; accepted as an alias.
PURPOSE_ALIAS = "x-nlx-request-process-id"
CASE_HEADER = "glazenstad-case-id"
JUSTIFICATION_HEADER = "glazenstad-justification"
LINK_HEADER = "glazenstad-link-dataset"
CONSENT_HEADER = "glazenstad-consent"
WITHHELD_HEADER = b"glazenstad-withheld"
PSEUDONYMISED_HEADER = b"glazenstad-pseudonymised"
DECISION_HEADER = b"glazenstad-decision-id"
MAX_REWRITE_BYTES = 16 * 1024 * 1024
ATTR_DECISION = "glazenstad.decision_id"
RESOURCE = {"attributes": {"service.name": "glazenstad-gateway"}}
# Never forwarded upstream: hop-by-hop headers, the caller's token and our own instructions.
_DROP_REQUEST = frozenset(
    {
        "host",
        "authorization",
        "connection",
        "keep-alive",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "traceparent",
        "tracestate",
        "content-length",
        PURPOSE_HEADER,
        PURPOSE_ALIAS,
        CASE_HEADER,
        JUSTIFICATION_HEADER,
        LINK_HEADER,
        CONSENT_HEADER,
    }
)
_DROP_RESPONSE = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "server", "date"}
)
_log = logging.getLogger("glazenstad.gateway")


@dataclass
class Timing:
    """Where a request's time went, sent as `Server-Timing` (milliseconds).

    `source` is waiting for the source's answer (its headers), `log` waiting for the commit of
    decisions and log records; `gateway` is what is left: the gateway's own work, including
    reading and rewriting an answer with obligations. A browser's developer tools and the
    benchmark read it.
    """

    started: float
    decide: float = 0.0
    source: float = 0.0
    log: float = 0.0

    def header(self) -> bytes:
        total = time.perf_counter() - self.started
        own = max(0.0, total - self.source - self.log - self.decide)
        return (
            f"decide;dur={self.decide * 1000:.3f}, source;dur={self.source * 1000:.3f}, "
            f"log;dur={self.log * 1000:.3f}, gateway;dur={own * 1000:.3f}"
        ).encode()


def upstream_session(timeout: float) -> aiohttp.ClientSession:
    """The pooled HTTP client the gateway forwards with; answers pass through as sent.

    aiohttp rather than httpx: under concurrent requests httpx's connection pool cost
    milliseconds per request here, more than the source itself. `benchmarks.passthrough` uses
    the same client, so that its ceiling stays the gateway's.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=200, ttl_dns_cache=60),
        timeout=aiohttp.ClientTimeout(total=timeout),
        auto_decompress=False,
        skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
    )


class GatewayProblem(Exception):
    """An answer of the gateway itself, as problem+json."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra
        self.headers: list[tuple[bytes, bytes]] = []


@dataclass
class _Register:
    """The register of the gateway's organisation, re-read at most once per second."""

    store: RegisterStore
    organisation: str
    current: OrganisationRegister | None = None
    checked: float = float("-inf")

    def get(self) -> OrganisationRegister:
        now = time.monotonic()
        if now - self.checked >= 1.0 or self.current is None:
            self.checked = now
            self.current = self.store.snapshot().organisation(self.organisation)
        if self.current is None:
            raise GatewayProblem(
                503,
                "Dienst niet beschikbaar",
                f"Organisatie '{self.organisation}' staat niet in het register.",
            )
        return self.current


class Gateway:
    """The ASGI application; `close()` (or the lifespan shutdown) writes what is queued."""

    def __init__(
        self,
        config: GatewayConfig,
        rules: RulesService,
        register: RegisterStore,
        logbook: LogStore,
        *,
        timeout: float = 30.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        self.rules = rules
        self.register = _Register(register, config.organisation)
        self.pseudonymizer = logbook.pseudonymizer
        self.log = GatewayLog(logbook, config.organisation)
        self._timeout = timeout
        self._client: aiohttp.ClientSession | None = None
        # Decisions are made for the current moment; a clock can be given to decide as of
        # another (tests of office-hours rules, replays).
        self._clock = clock

    def client(self) -> aiohttp.ClientSession:
        """One pooled session per process (made in the event loop that uses it)."""
        if self._client is None:
            self._client = upstream_session(self._timeout)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        await asyncio.to_thread(self.log.close)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            await self._handle(scope, receive, send)
        except GatewayProblem as problem:
            await _send_problem(send, scope, problem)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                freeze_startup_heap()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- the request ----------------------------------------------------------------------

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.time()
        timing = Timing(time.perf_counter())
        headers = _headers(scope)
        method: str = scope["method"]
        path: str = scope["path"]
        if path == "/health":
            await _send_json(send, 200, {"status": "ok"})
            return
        client = self._authenticate(headers)
        found = self.config.route(method, path)
        if found is None:
            raise GatewayProblem(
                404, "Niet gevonden", f"De gateway kent geen route voor {method} {path}."
            )
        compiled, params = found
        route = compiled.route
        purpose = headers.get(PURPOSE_HEADER) or headers.get(PURPOSE_ALIAS)
        if not purpose:
            raise GatewayProblem(
                400,
                "Ongeldige aanvraag",
                "Noem het doel: de header Glazenstad-Purpose met het id van een verwerking "
                "uit het register.",
                invalidParams=[
                    {"name": "header.Glazenstad-Purpose", "type": "missing", "reason": "verplicht"}
                ],
            )
        register = self.register.get()
        subject = params.get(route.subject.param) if route.subject and route.subject.param else None
        subject_type = route.subject.type if route.subject else None
        pseudonym = (
            self.pseudonymizer.pseudonym(self.config.organisation, subject_type, subject)
            if subject is not None and subject_type is not None
            else None
        )
        mark = time.perf_counter()
        decisions = self._decide(client, compiled, method, purpose, pseudonym, headers)
        timing.decide += time.perf_counter() - mark
        main = decisions[0]
        if not main.permitted:
            await self._commit(decisions, [])
            problem = GatewayProblem(
                403,
                "Geen toegang",
                main.explanation(),
                decisionId=main.id,
                rules=list(main.outcome.rule_ids),
                purpose=purpose,
            )
            problem.headers.append((DECISION_HEADER, main.id.encode()))
            raise problem
        obligations = main.outcome.obligations
        if obligations.require_justification and not headers.get(JUSTIFICATION_HEADER):
            await self._commit(decisions, [])
            problem = GatewayProblem(
                403,
                "Reden nodig",
                "Deze verwerking mag alleen met een schriftelijke reden. Geef die mee in de "
                "header Glazenstad-Justification.",
                decisionId=main.id,
                rules=list(main.outcome.rule_ids),
                purpose=purpose,
            )
            problem.headers.append((DECISION_HEADER, main.id.encode()))
            raise problem
        denied = [d.request.resource.data_category for d in decisions[1:] if not d.permitted]
        plan = plan_for(
            fields=route.fields,
            mask=obligations.mask,
            pseudonymise=obligations.pseudonymise,
            denied_categories=denied,
            subject_field=route.subject.field if route.subject else None,
            subject_type=subject_type,
            subject_category=route.subject.category if route.subject else None,
        )
        upstream = self._upstream(register, route.dataset)
        trace = parse_traceparent(headers.get("traceparent"))
        trace_id, parent = trace if trace else (new_trace_id(), None)
        span = new_span_id()
        if route.upstream_path is not None:
            target = upstream + PATH_PARAMETER.sub(
                lambda m: quote(params[m.group(1)], safe=""), route.upstream_path
            )
        else:  # forwarded as the caller encoded it
            raw: bytes = scope.get("raw_path") or path.encode()
            target = upstream + raw.decode("latin-1")[len(compiled.prefix) :]
        query = scope.get("query_string", b"")
        if query:
            target += "?" + query.decode("latin-1")
        outgoing = [(k, v) for k, v in scope["headers"] if k.decode("latin-1") not in _DROP_REQUEST]
        if plan.reads_body:  # the answer is read and rewritten here: ask for it uncompressed
            outgoing = [(k, v) for k, v in outgoing if k != b"accept-encoding"]
            outgoing.append((b"accept-encoding", b"identity"))
        outgoing.append((b"traceparent", traceparent(trace_id, span).encode()))
        body = _request_body(receive) if method not in ("GET", "HEAD") else None
        activity = (
            purpose
            if "://" in purpose
            else entry_uri(register.org.register_uri, KIND_ACTIVITY, purpose)
        )

        def records(status: str, subjects: list[str]) -> list[LogRecord]:
            return _records(
                trace_id=trace_id,
                span=span,
                parent=parent,
                name=route.name or f"{method} /{route.dataset}{route.path}",
                start=started,
                status=status,
                activity=activity,
                subjects=subjects,
                subject_type=subject_type,
                decision=main.id,
                route=f"/{route.dataset}{route.path}",
                method=method,
            )

        mark = time.perf_counter()
        try:
            response = await self.client().request(
                method,
                target,
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in outgoing],
                data=body,
                allow_redirects=False,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            _log.warning("upstream %s failed: %s", route.dataset, type(exc).__name__)
            await self._commit(decisions, records("Error", [subject] if subject else []))
            raise GatewayProblem(
                502, "Bron niet bereikbaar", f"De bron '{route.dataset}' gaf geen antwoord."
            ) from None
        timing.source += time.perf_counter() - mark
        try:
            code = response.status
            status = "Ok" if code < 400 else ("Unset" if code < 500 else "Error")
            if plan.reads_body and _is_json(response) and code < 400:
                try:
                    content, applied = await self._rewrite(response, plan)
                except GatewayProblem:
                    await self._commit(decisions, records("Error", [subject] if subject else []))
                    raise
                subjects = applied.subjects
                if subject is not None and subject not in subjects:
                    subjects.insert(0, subject)
                await self._commit(decisions, records(status, subjects), timing)
                await _send_response(send, response, main.id, content, timing, applied)
                return
            if plan.rewrites and code < 400:
                await self._commit(decisions, records("Error", [subject] if subject else []))
                raise GatewayProblem(
                    502,
                    "Verplichtingen niet uit te voeren",
                    f"Het antwoord van '{route.dataset}' is geen JSON; de gateway kan de "
                    "verplichtingen van de beslissing niet toepassen en geeft het niet door.",
                )
            await self._commit(decisions, records(status, [subject] if subject else []), timing)
            await _send_response(send, response, main.id, None, timing)
        finally:
            response.release()

    def _authenticate(self, headers: dict[str, str]) -> Client:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        client = self.config.client(token.strip()) if scheme.lower() == "bearer" else None
        if client is None:
            problem = GatewayProblem(
                401,
                "Niet geauthenticeerd",
                "Geef een geldig token mee: Authorization: Bearer <token>.",
            )
            problem.headers.append((b"www-authenticate", b'Bearer realm="glazenstad-gateway"'))
            raise problem
        return client

    def _decide(
        self,
        client: Client,
        compiled: CompiledRoute,
        method: str,
        purpose: str,
        subject: str | None,
        headers: dict[str, str],
    ) -> list[Decision]:
        """The decision for the route's category first, then one per other field category."""
        route = compiled.route
        actor = Actor(
            role=client.role,
            department=client.department,
            organisation=self.config.organisation,
            case_assignments=frozenset(client.case_assignments),
        )
        context = Context(
            time=self._clock() if self._clock is not None else None,
            channel=client.channel,
            # Asserted by the calling application until a consent register exists.
            consent=frozenset(
                p.strip() for p in headers.get(CONSENT_HEADER, "").split(",") if p.strip()
            ),
            justification=headers.get(JUSTIFICATION_HEADER),
        )
        # Combining the answer with another dataset is a link, decided as such.
        linked = headers.get(LINK_HEADER) or None
        action = "link" if linked else route.action_for(method)
        case_id = headers.get(CASE_HEADER)
        engine = self.rules.engine()
        others = sorted({c for c in route.fields.values() if c != route.data_category})
        categories = [route.data_category, *others]
        return [
            engine.decide(
                DecisionRequest(
                    actor=actor,
                    action=action,
                    resource=Resource(
                        data_category=category,
                        dataset=route.dataset,
                        subject=subject,
                        case_id=case_id,
                        linked_dataset=linked,
                    ),
                    purpose=purpose,
                    context=context,
                )
            )
            for category in categories
        ]

    def _upstream(self, register: OrganisationRegister, dataset_id: str) -> str:
        configured = self.config.upstreams.get(dataset_id)
        if configured:
            return configured
        dataset = register.dataset(dataset_id)
        if dataset is None or dataset.api_url is None:
            raise GatewayProblem(
                502,
                "Bron onbekend",
                f"Dataset '{dataset_id}' heeft in het register geen API-adres.",
            )
        return str(dataset.api_url).rstrip("/")

    async def _rewrite(
        self, response: aiohttp.ClientResponse, plan: ResponsePlan
    ) -> tuple[bytes, Applied]:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > MAX_REWRITE_BYTES:
                raise GatewayProblem(
                    502,
                    "Antwoord te groot",
                    f"Het antwoord is groter dan {MAX_REWRITE_BYTES} bytes; de gateway past "
                    "verplichtingen alleen toe op kleinere antwoorden.",
                )
            chunks.append(chunk)
        try:
            body = json.loads(b"".join(chunks))
        except ValueError:
            raise GatewayProblem(
                502, "Ongeldig antwoord van de bron", "De bron gaf geen geldige JSON."
            ) from None
        applied = Applied()
        organisation = self.config.organisation
        pseudonymizer = self.pseudonymizer

        def pseudonym(id_type: str, value: str) -> str:
            return pseudonymizer.pseudonym(organisation, id_type, value)

        rewritten = apply_plan(body, plan, pseudonym, applied)
        return json.dumps(rewritten, ensure_ascii=False).encode("utf-8"), applied

    async def _commit(
        self, decisions: list[Decision], records: list[LogRecord], timing: Timing | None = None
    ) -> None:
        mark = time.perf_counter()
        try:
            await asyncio.wrap_future(self.log.submit(decisions, records))
            if timing is not None:
                timing.log += time.perf_counter() - mark
        except LogWriteError:
            _log.error("the gateway log could not be written; request refused")
            raise GatewayProblem(
                503,
                "Logboek niet beschikbaar",
                "De verwerking kon niet worden vastgelegd, dus worden er geen gegevens "
                "verstrekt. Probeer het later opnieuw.",
            ) from None


def _records(
    *,
    trace_id: str,
    span: str,
    parent: str | None,
    name: str,
    start: float,
    status: str,
    activity: str,
    subjects: list[str],
    subject_type: str | None,
    decision: str,
    route: str,
    method: str,
) -> list[LogRecord]:
    """One record for the gateway's action; with several subjects, one child record each."""
    start_ms = int(start * 1000)
    end_ms = max(start_ms, int(time.time() * 1000))
    attributes = {ATTR_DECISION: decision, "http.route": route, "http.request.method": method}

    def record(span_id: str, parent_id: str | None, subject: str | None) -> LogRecord:
        return LogRecord(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent_id,
            name=name,
            start_time=start_ms,
            end_time=end_ms,
            status=status,
            processing_activity_id=activity,
            data_subject_id=subject,
            data_subject_id_type=subject_type if subject is not None else None,
            processor=None,
            resource=RESOURCE,
            attributes=dict(attributes),
        )

    if len(subjects) <= 1:
        return [record(span, parent, subjects[0] if subjects else None)]
    return [record(span, parent, None)] + [record(new_span_id(), span, s) for s in subjects]


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _is_json(response: aiohttp.ClientResponse) -> bool:
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _send_response(
    send: Send,
    response: aiohttp.ClientResponse,
    decision_id: str,
    content: bytes | None,
    timing: Timing,
    applied: Applied | None = None,
) -> None:
    headers = [
        (k, v)
        for k, v in response.raw_headers
        if k.lower().decode("latin-1") not in _DROP_RESPONSE
        and (content is None or k.lower() not in (b"content-length", b"content-encoding"))
    ]
    headers.append((DECISION_HEADER, decision_id.encode()))
    headers.append((b"server-timing", timing.header()))
    if applied is not None and applied.withheld:
        headers.append((WITHHELD_HEADER, ", ".join(sorted(applied.withheld)).encode()))
    if applied is not None and applied.pseudonymised:
        headers.append((PSEUDONYMISED_HEADER, ", ".join(sorted(applied.pseudonymised)).encode()))
    if content is not None:
        headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
        return
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    async for chunk in response.content.iter_any():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    content = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


async def _send_problem(send: Send, scope: Scope, problem: GatewayProblem) -> None:
    body = {
        "type": "about:blank",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": scope.get("path"),
        **problem.extra,
    }
    content = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(content)).encode()),
        *problem.headers,
    ]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def create_gateway(
    settings: Settings,
    config_path: Path,
    *,
    run_migrations: bool = True,
    clock: Callable[[], float] | None = None,
) -> Gateway:
    """The gateway for `config_path` on the configured database (migrated unless told not to).

    Production mode refuses a configuration with demo clients: their tokens are public.
    """
    config = load_gateway_config(config_path)
    if settings.mode == "production" and config.has_demo_clients:
        raise GatewayConfigError(
            [Problem(config.source, None, "clients", "demo clients are refused in production mode")]
        )
    engine = make_engine(settings.effective_database_url)
    if run_migrations:
        migrate(engine)
    register = RegisterStore(engine)
    return Gateway(
        config,
        RulesService(register, PolicyStore(engine)),
        register,
        LogStore(engine, register, settings.pseudonymizer()),
        clock=clock,
    )


def create_worker_gateway() -> Gateway:
    """The gateway of one `glazenstad gateway` worker process, from the environment.

    Settings are read afresh: the command sets the configuration path in the environment
    after the process may already have read (and cached) its settings.
    """
    settings = Settings()
    if settings.gateway_config is None:
        raise GatewayConfigError([Problem("GLAZENSTAD_GATEWAY_CONFIG", None, None, "not set")])
    return create_gateway(settings, settings.gateway_config, run_migrations=False)
