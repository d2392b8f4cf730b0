"""Log processing to the Glazen Stad logbook as OpenTelemetry spans (Logboek Dataverwerkingen).

    log = ProcessingLog("https://logboek.example", "teststad", "scanauto-app")
    with log.processing(ACTIVITY, "Kenteken controleren", subjects=[("kenteken", "AB-12-CD")]):
        ...

    @log.processing(ACTIVITY, "Controle parkeerrecht")
    def controle() -> None: ...

One processing is one span carrying `dpl.core.processing_activity_id` (and
`dpl.core.foreign_operation.processor` when there is a calling application). With exactly one
data subject the span carries `dpl.core.data_subject_id` and `_type`; with several, the span
carries none and gets one child span per subject, so no record ever names two persons. An
exception sets status Error and `exception.message/type/stacktrace` on every span of the
processing and is re-raised; the subject ids are blanked out of those texts. Nothing is sampled
away: the provider samples ALWAYS_ON, also when an incoming `traceparent` says "not sampled".

W3C trace context: `continue_trace(headers)` makes an incoming request's `traceparent` the parent
of the processings inside it; `inject_headers(headers)` and the httpx event hooks
(`httpx_trace_hook`, `async_httpx_trace_hook`) put the current span's `traceparent` on outgoing
calls. They work on OpenTelemetry's current context, so they also carry spans of other tracers.

The SDK writes nothing to Python logging: a subject id leaves the process only in the span
attribute the logbook pseudonymises.
"""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from contextvars import Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from glazenstad.logbook.record import (  # one definition of the LDV attribute names
    ATTR_ACTIVITY,
    ATTR_PROCESSOR,
    ATTR_SUBJECT_ID,
    ATTR_SUBJECT_TYPE,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ATTR_ACTIVITY",
    "ATTR_PROCESSOR",
    "ATTR_SUBJECT_ID",
    "ATTR_SUBJECT_TYPE",
    "ORGANISATION_HEADER",
    "Processing",
    "ProcessingLog",
    "Subject",
    "async_httpx_trace_hook",
    "continue_trace",
    "extract_context",
    "httpx_trace_hook",
    "inject_headers",
]

ORGANISATION_HEADER: Final = "Glazenstad-Organisation"
_REDACTED: Final = "[data subject]"
_INSTRUMENTATION: Final = "glazenstad.execution.sdk"

_PROPAGATOR: Final = TraceContextTextMapPropagator()

F = TypeVar("F", bound=Callable[..., Any])
H = TypeVar("H", bound=MutableMapping[str, str])


class Subject(NamedTuple):
    """A data subject: the kind of identifier (`BSN`, `kenteken`, a URI) and the identifier."""

    id_type: str
    id: str


class ProcessingLog:
    """A tracer provider of its own that exports processings to one Glazen Stad logbook.

    Spans go over OTLP/HTTP to `<endpoint>/v1/traces` with the `Glazenstad-Organisation` header
    and the system's bearer `token` (scope `logbook:write`), batched by default (`batch=False`:
    each span is exported when it ends). `exporter` replaces the OTLP exporter (tests: an
    in-memory exporter); `span_processor` replaces the processor.
    """

    def __init__(
        self,
        endpoint: str,
        organisation: str,
        service_name: str,
        *,
        service_version: str | None = None,
        exporter: SpanExporter | None = None,
        span_processor: SpanProcessor | None = None,
        batch: bool = True,
        timeout: float = 10.0,
        token: str | None = None,
    ) -> None:
        if not organisation:
            raise ValueError("organisation: required (the Glazenstad-Organisation header)")
        if not service_name:
            raise ValueError("service_name: required")
        self.endpoint = endpoint.rstrip("/") + "/v1/traces"
        self.organisation = organisation
        attributes: dict[str, str] = {"service.name": service_name}
        if service_version:
            attributes["service.version"] = service_version
        self.provider = TracerProvider(sampler=ALWAYS_ON, resource=Resource.create(attributes))
        if span_processor is None:
            if exporter is None:
                exporter = OTLPSpanExporter(
                    endpoint=self.endpoint,
                    headers={
                        ORGANISATION_HEADER: organisation,
                        **({"Authorization": f"Bearer {token}"} if token else {}),
                    },
                    timeout=timeout,
                )
            span_processor = (
                BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
            )
        self.provider.add_span_processor(span_processor)
        self.tracer = self.provider.get_tracer(_INSTRUMENTATION)

    def processing(
        self,
        activity_id: str,
        name: str,
        *,
        subjects: Sequence[tuple[str, str]] = (),
        processor: str | None = None,
    ) -> Processing:
        """One processing: a context manager (yields the span) and a decorator.

        `subjects` are `(id_type, id)` pairs, e.g. `("BSN", "999993653")`; duplicates count once.
        """
        return Processing(self.tracer, activity_id, name, subjects, processor)

    def flush(self, timeout_millis: int = 30_000) -> bool:
        """Export every ended span now; False when that did not finish in time."""
        return self.provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Flush and stop; processings after this are not exported."""
        self.provider.shutdown()

    def __enter__(self) -> ProcessingLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


class Processing:
    """One logged processing; see `ProcessingLog.processing`.

    As a decorator every call is a processing of its own (also for `async def` functions).
    """

    def __init__(
        self,
        tracer: trace.Tracer,
        activity_id: str,
        name: str,
        subjects: Sequence[tuple[str, str]],
        processor: str | None,
    ) -> None:
        if not activity_id:
            raise ValueError("activity_id: required (the URI of the register entry)")
        if not name:
            raise ValueError("name: required")
        unique: dict[Subject, None] = {}
        for entry in subjects:
            id_type, subject_id = entry
            if not isinstance(id_type, str) or not isinstance(subject_id, str):
                raise TypeError("subjects: (id_type, id) pairs of strings")
            if not id_type or not subject_id:
                raise ValueError("subjects: empty id_type or id")
            unique[Subject(id_type, subject_id)] = None
        if processor is not None and not processor:
            raise ValueError("processor: empty (leave it out when there is no calling application)")
        self._tracer = tracer
        self.activity_id = activity_id
        self.name = name
        self.subjects: tuple[Subject, ...] = tuple(unique)
        self.processor = processor
        self.span: Span | None = None
        self.subject_spans: tuple[Span, ...] = ()
        self._token: Token[Context] | None = None
        self._entered = False

    def _copy(self) -> Processing:
        return Processing(self._tracer, self.activity_id, self.name, self.subjects, self.processor)

    def _attributes(self, subject: Subject | None) -> dict[str, str]:
        attributes = {ATTR_ACTIVITY: self.activity_id}
        if self.processor is not None:
            attributes[ATTR_PROCESSOR] = self.processor
        if subject is not None:
            attributes[ATTR_SUBJECT_ID] = subject.id
            attributes[ATTR_SUBJECT_TYPE] = subject.id_type
        return attributes

    def __enter__(self) -> Span:
        if self._entered:
            raise RuntimeError("a Processing is entered once; call processing() again")
        self._entered = True
        only = self.subjects[0] if len(self.subjects) == 1 else None
        span = self._tracer.start_span(
            self.name,
            attributes=self._attributes(only),
            record_exception=False,
            set_status_on_exception=False,
        )
        self.span = span
        self._token = otel_context.attach(trace.set_span_in_context(span))
        if len(self.subjects) > 1:
            parent = trace.set_span_in_context(span)
            self.subject_spans = tuple(
                self._tracer.start_span(
                    self.name,
                    context=parent,
                    attributes=self._attributes(subject),
                    record_exception=False,
                    set_status_on_exception=False,
                )
                for subject in self.subjects
            )
        return span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.span is not None and self._token is not None
        try:
            spans = (*self.subject_spans, self.span)
            if exc is not None:
                attributes = self._exception_attributes(exc)
                for span in spans:
                    span.set_attributes(attributes)
                    span.set_status(Status(StatusCode.ERROR, attributes["exception.type"]))
            for span in spans:  # children end before their parent
                span.end()
        finally:
            otel_context.detach(self._token)
            self._token = None

    def _exception_attributes(self, exc: BaseException) -> dict[str, str]:
        exc_type = type(exc)
        qualified = (
            exc_type.__qualname__
            if exc_type.__module__ == "builtins"
            else f"{exc_type.__module__}.{exc_type.__qualname__}"
        )
        return {
            "exception.type": qualified,
            "exception.message": self._redact(str(exc)),
            "exception.stacktrace": self._redact(
                "".join(traceback.format_exception(exc_type, exc, exc.__traceback__))
            ),
        }

    def _redact(self, text: str) -> str:
        """Blank the subject ids out: they go to the logbook only as pseudonymised attribute."""
        for subject in sorted(self.subjects, key=lambda s: len(s.id), reverse=True):
            text = text.replace(subject.id, _REDACTED)
        return text

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):
            async_func = cast(Callable[..., Awaitable[Any]], func)

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self._copy():
                    return await async_func(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._copy():
                return func(*args, **kwargs)

        return cast(F, wrapper)


class _CaseInsensitiveGetter:
    """Reads header names in any case from a plain mapping (HTTP header names are case-blind)."""

    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            wanted = key.lower()
            value = next((v for k, v in carrier.items() if k.lower() == wanted), None)
        return None if value is None else [value]

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        return list(carrier.keys())


_GETTER: Final = _CaseInsensitiveGetter()


def inject_headers(headers: H) -> H:
    """Add the current span's `traceparent` (and `tracestate`) to outgoing headers; returns them."""
    _PROPAGATOR.inject(headers)
    return headers


def extract_context(headers: Mapping[str, str], base: Context | None = None) -> Context:
    """The context of an incoming request's `traceparent`; `base` (default: the current context)
    unchanged when there is none or it is malformed."""
    if base is None:
        base = otel_context.get_current()
    return _PROPAGATOR.extract(headers, context=base, getter=_GETTER)  # type: ignore[arg-type]


@contextmanager
def continue_trace(headers: Mapping[str, str]) -> Iterator[Context]:
    """Processings inside continue the trace of the incoming request's `traceparent`."""
    ctx = extract_context(headers)
    token = otel_context.attach(ctx)
    try:
        yield ctx
    finally:
        otel_context.detach(token)


def httpx_trace_hook(request: httpx.Request) -> None:
    """httpx request event hook: `httpx.Client(event_hooks={"request": [httpx_trace_hook]})`."""
    _PROPAGATOR.inject(request.headers)


async def async_httpx_trace_hook(request: httpx.Request) -> None:
    """The same hook for `httpx.AsyncClient`, whose hooks must be coroutines."""
    _PROPAGATOR.inject(request.headers)
