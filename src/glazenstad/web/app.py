"""The web application: API under /api/v1 and the public portal, served by one process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from glazenstad.db.engine import make_engine, migrate
from glazenstad.db.replica import ReadRouter, make_read_engine
from glazenstad.heap import freeze_startup_heap
from glazenstad.logbook.partitions import ensure_partitions
from glazenstad.logbook.store import LogStore
from glazenstad.logbook.stream import QueueConfig
from glazenstad.logbook.stream_publish import StreamPublisher
from glazenstad.register.store import RegisterStore
from glazenstad.rules.announce import ChangeListener
from glazenstad.rules.decision_queue import DecisionPublisher, decision_queue
from glazenstad.rules.decisionlog import DecisionLog
from glazenstad.rules.partitions import DECISION_LOG
from glazenstad.rules.service import RulesService
from glazenstad.rules.store import PolicyStore
from glazenstad.settings import Settings, get_settings
from glazenstad.web import otlp, portal
from glazenstad.web.api.v1 import audit as audit_api
from glazenstad.web.api.v1 import compliance as compliance_api
from glazenstad.web.api.v1 import figures as figures_api
from glazenstad.web.api.v1 import impact as impact_api
from glazenstad.web.api.v1 import incidents as incidents_api
from glazenstad.web.api.v1 import logbook as logbook_api
from glazenstad.web.api.v1 import parking as parking_api
from glazenstad.web.api.v1 import peers as peers_api
from glazenstad.web.api.v1 import register as register_api
from glazenstad.web.api.v1 import reports as reports_api
from glazenstad.web.api.v1 import rules as rules_api
from glazenstad.web.api.v1 import sensors as sensors_api
from glazenstad.web.api.v1 import signals as signals_api
from glazenstad.web.api.v1 import status as status_api
from glazenstad.web.api.v1.common import API_PREFIX, API_VERSION
from glazenstad.web.headers import ResponseHeaders
from glazenstad.web.limits import BodyLimit, RateLimit, RateLimits
from glazenstad.web.oidc.tokens import AccessTokenValidator
from glazenstad.web.openapi import openapi_document as built_openapi
from glazenstad.web.problems import (
    STORAGE_ERRORS,
    ProblemError,
    http_handler,
    log_storage_problem,
    server_error_handler,
    storage_problem,
    validation_handler,
)
from glazenstad.web.staff import StaffSessions, directory_for
from glazenstad.web.state import AppState
from glazenstad.web.systems import clients_for, install_token_validator, oauth_clients


def create_app(settings: Settings | None = None, *, run_migrations: bool = True) -> FastAPI:
    """Build the application; migrations run at start-up so an empty database just works."""
    settings = settings or get_settings()
    engine = make_engine(settings.effective_database_url)
    if run_migrations:
        migrate(engine)
        ensure_partitions(engine)  # the logbook's months ahead (PostgreSQL; ADR 14)
        ensure_partitions(engine, table=DECISION_LOG)  # and the decision log's (ADR 16)
    register = RegisterStore(engine)
    state = AppState(
        settings=settings,
        engine=engine,
        register=register,
        rules=RulesService(
            register, PolicyStore(engine), refresh_interval=settings.rules_refresh_seconds
        ),
        decision_log=DecisionLog(engine),
        logbook=LogStore(engine, register, settings.pseudonymizer()),
        reads=ReadRouter(engine, _read_engine(settings)),
    )

    queue = QueueConfig.from_settings(settings)  # set: log records go through JetStream
    stream = StreamPublisher(queue, state.logbook) if queue is not None else None
    decisions = decision_queue(settings)  # set: decisions are answered once JetStream stored them
    decision_stream = DecisionPublisher(decisions) if decisions is not None else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        freeze_startup_heap()
        listener = ChangeListener(settings, state.rules.refresh_now)
        await listener.start()
        yield
        await listener.close()
        for publisher in (stream, decision_stream):
            if publisher is not None:
                await publisher.close()
        state.decision_log.close()
        state.reads.dispose()
        engine.dispose()

    app = FastAPI(
        title="Glazen Stad",
        version=API_VERSION,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
        lifespan=lifespan,
    )
    app.state.glazenstad = state
    app.state.logbook_stream = stream
    app.state.decision_stream = decision_stream
    app.state.staff_directory = directory_for(settings.mode, settings.staff_directory)
    app.state.staff_sessions = StaffSessions()
    app.state.system_clients = clients_for(settings.mode, settings.system_clients)
    if settings.system_oidc_issuer and settings.system_oidc_audience:
        validator = AccessTokenValidator(settings.system_oidc_issuer, settings.system_oidc_audience)
        install_token_validator(
            app.state,
            oauth_clients(
                validator,
                settings.system_oidc_organisation,
                settings.system_oidc_organisation_claim,
            ),
        )
    app.include_router(register_api.router, prefix=API_PREFIX)
    app.include_router(rules_api.router, prefix=API_PREFIX)
    app.include_router(logbook_api.router, prefix=API_PREFIX)
    app.include_router(sensors_api.router, prefix=API_PREFIX)
    app.include_router(parking_api.router, prefix=API_PREFIX)
    app.include_router(peers_api.router, prefix=API_PREFIX)
    app.include_router(figures_api.router, prefix=API_PREFIX)
    app.include_router(signals_api.router, prefix=API_PREFIX)
    app.include_router(compliance_api.router, prefix=API_PREFIX)
    app.include_router(audit_api.router, prefix=API_PREFIX)
    app.include_router(incidents_api.router, prefix=API_PREFIX)
    app.include_router(reports_api.router, prefix=API_PREFIX)
    app.include_router(impact_api.router, prefix=API_PREFIX)
    app.include_router(status_api.router, prefix=API_PREFIX)
    app.include_router(otlp.router)

    @app.get(f"{API_PREFIX}/openapi.json", include_in_schema=False)
    def openapi_document() -> JSONResponse:
        return JSONResponse(built_openapi(app))

    portal.mount(app)

    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(StarletteHTTPException, _portal_or_api(http_handler))
    app.add_exception_handler(Exception, server_error_handler)
    for kind in STORAGE_ERRORS:  # a database away or full: 503/507 with Retry-After, not 500
        app.add_exception_handler(kind, _storage_error)

    app.add_middleware(
        RateLimit,
        limits=RateLimits(
            login=settings.rate_limit_login,
            search=settings.rate_limit_search,
            storage=settings.rate_limit_storage,
        ),
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    # Outermost, so that a refusal by the limits carries the headers too.
    app.add_middleware(ResponseHeaders)
    return app


def _read_engine(settings: Settings) -> Engine | None:
    """The read replica's engine for residents' reads, when one is configured (docs/replica.md)."""
    return make_read_engine(settings.database_read_url) if settings.database_read_url else None


def _portal_or_api(
    api_handler: Callable[[Request, Exception], Awaitable[Response]],
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """Problem+json on the API; a Dutch error page on the portal."""

    async def handler(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return await api_handler(request, exc)
        assert isinstance(exc, StarletteHTTPException)
        location = (exc.headers or {}).get("Location")
        if 300 <= exc.status_code < 400 and location:  # e.g. a staff page asks for a login
            return RedirectResponse(location, status_code=exc.status_code)
        # A missing staff permission says which (a ProblemError); a failed form check does not.
        reason = exc.detail if isinstance(exc, ProblemError) else None
        return portal.error_page(request, exc.status_code, reason)

    return handler


async def _storage_error(request: Request, exc: Exception) -> Response:
    """A retryable answer when the database is unreachable or full; anything else stays a 500."""
    problem = storage_problem(exc)
    if problem is None:
        return await server_error_handler(request, exc)
    log_storage_problem(request, exc, problem)
    response = await _portal_or_api(http_handler)(request, problem)
    response.headers.update(problem.headers or {})  # the portal page and OTLP get it too
    return response


def create_worker_app() -> FastAPI:
    """The application of one of several `glazenstad serve --workers` processes.

    The parent process has migrated the database already; settings come from the environment.
    """
    return create_app(get_settings(), run_migrations=False)
