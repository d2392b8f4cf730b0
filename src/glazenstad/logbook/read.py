"""Reading the logbook: the LDV read extension ("lezen" v1.1.0) and the resident's own overview.

`ReadFilter` is the request body of `POST /processing-activities` (camelCase and `dpl.core.*`
keys as the read extension names them); `read_processing` answers it in the extension's response
shape. Choices where the published standard is defective or silent are recorded in
docs/adr/0006-ldv-read-extension.md; in short:

- `traceId` is 32 hex characters as in the core standard; the UUID form the read extension
  declares (`format: uuid`, 8-4-4-4-12 with hyphens) is accepted too and normalised by dropping
  the hyphens. Both are case-insensitive and answered in lowercase 32-hex form.
- A time range selects the actions that lie inside it: `startTime <= start_time` and
  `end_time <= endTime`.
- Results are ordered by start time (then storage order) and paginated; at most `cap` matching
  records can be paged through. Beyond the cap the result says `truncated` and a page that
  starts at or after the cap is refused with a `ReadError` asking for a narrower filter.
- The data subject id is never echoed: not in plain text and not as its pseudonym (whose prefix
  names the key). A subject filter matches the subject's pseudonym under every configured key, so
  records written before a key rotation are still found.
- A resident read (`resident=True`) must filter on the resident's own id, leaves out every
  record whose activity was `vertrouwelijk` in the register version in force at the record's
  start time, and returns only the `dpl.core` attributes (application-specific attributes such
  as `exception.stacktrace` are internal).

A read of the logbook is itself a processing and must be logged: build its record with
`access_request_record` and ingest it with `LogStore.ingest` after the read (so the request does
not show up in its own answer).
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import ColumnElement, Engine, and_, func, not_, or_, select

from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.record import (
    ATTR_ACTIVITY,
    ATTR_PROCESSOR,
    ATTR_SUBJECT_ID,
    ATTR_SUBJECT_TYPE,
    EPOCH,
    MAX_TIME_MS,
    ms_to_datetime,
    parse_record,
)
from glazenstad.logbook.tables import log_record
from glazenstad.logbook.traceids import new_span_id, new_trace_id
from glazenstad.register.model import KIND_ACTIVITY, ProcessingActivity, parse_entry
from glazenstad.register.store import RegisterSnapshot, RegisterStore
from glazenstad.register.tables import register_entry_version

DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 1000
DEFAULT_CAP: Final = 10_000
DEFAULT_SUBJECT_TYPE: Final = "BSN"
ACCESS_REQUEST_NAME: Final = "Inzageverzoek logboek"
CONFIDENTIAL: Final = "vertrouwelijk"

FILTER_RULE: Final = (
    f"give at least one of traceId, {ATTR_ACTIVITY} or {ATTR_SUBJECT_ID} "
    "(an empty filter would read the whole logbook)"
)

_ONE_MS = timedelta(milliseconds=1)
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LOOKUP_CHUNK = 1000


class ReadError(ValueError):
    """A read cannot be answered as asked (the message says why and what to change)."""


def normalise_trace_id(value: str) -> str:
    """32 lowercase hex from 32 hex or the UUID form; raises ValueError otherwise."""
    if _UUID.fullmatch(value):
        value = value.replace("-", "")
    elif not _HEX32.fullmatch(value):
        raise ValueError(
            "traceId: must be 32 hex characters (W3C trace id) or a UUID "
            "(8-4-4-4-12 hex characters with hyphens)"
        )
    # All zeros is an invalid W3C id; no stored record has it, so it simply matches nothing.
    return value.lower()


_TRACE_ID_PATTERN = (
    r"^([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
    r"-[0-9a-fA-F]{12})$"
)


class ReadFilter(BaseModel):
    """The request body of the read extension; at least one of three filters is required."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        # The cross-field rules, stated in the published schema too, so clients (and contract
        # tests) know them without reading our code.
        json_schema_extra={
            "anyOf": [
                {"required": ["traceId"]},
                {"required": [ATTR_ACTIVITY]},
                {"required": [ATTR_SUBJECT_ID]},
            ],
        },
    )

    # The three filters are optional but never null on the wire: the schema says a given filter
    # has a value, so "at least one of them" means at least one real filter.
    trace_id: Annotated[str, Field(pattern=_TRACE_ID_PATTERN)] | SkipJsonSchema[None] = Field(
        default=None, alias="traceId"
    )
    processing_activity_id: (
        Annotated[str, Field(min_length=1, max_length=600)] | SkipJsonSchema[None]
    ) = Field(default=None, alias=ATTR_ACTIVITY)
    data_subject_id: Annotated[str, Field(min_length=1, max_length=200)] | SkipJsonSchema[None] = (
        Field(default=None, alias=ATTR_SUBJECT_ID)
    )
    data_subject_id_type: str = Field(
        default=DEFAULT_SUBJECT_TYPE, alias=ATTR_SUBJECT_TYPE, min_length=1, max_length=200
    )
    processor: str | None = Field(default=None, alias=ATTR_PROCESSOR, min_length=1, max_length=600)
    start_time: int | None = Field(default=None, alias="startTime", ge=0, le=MAX_TIME_MS)
    end_time: int | None = Field(default=None, alias="endTime", ge=0, le=MAX_TIME_MS)

    @field_validator("start_time", "end_time", mode="before")
    @classmethod
    def _whole_milliseconds(cls, value: Any) -> Any:
        """Numbers only (JSON's 328.0 is the integer 328); no booleans, no strings."""
        if isinstance(value, bool | str):
            raise ValueError("must be a whole number of milliseconds since the epoch")
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("must be a whole number of milliseconds since the epoch")
        return value

    @field_validator("trace_id")
    @classmethod
    def _trace_id(cls, value: str | None) -> str | None:
        return None if value is None else normalise_trace_id(value)

    @model_validator(mode="after")
    def _rules(self) -> ReadFilter:
        if (
            self.trace_id is None
            and self.processing_activity_id is None
            and (self.data_subject_id is None)
        ):
            raise ValueError(FILTER_RULE)
        # A subject id type without a subject id filters nothing and is ignored.
        # endTime before startTime is no error: no action lies in such a range, so it matches
        # nothing (an empty answer is the truth).
        return self

    def __repr__(self) -> str:  # keep a plain subject id out of logs and tracebacks
        subject = "<given>" if self.data_subject_id is not None else None
        return (
            f"ReadFilter(trace_id={self.trace_id!r}, processing_activity_id="
            f"{self.processing_activity_id!r}, data_subject_id={subject}, "
            f"start_time={self.start_time!r}, end_time={self.end_time!r})"
        )

    __str__ = __repr__


@dataclass
class ReadResult:
    """One page of a read: the records in the read extension's shape, plus paging facts."""

    metadata: dict[str, str]
    items: list[dict[str, Any]]
    page: int
    page_size: int
    # Matching records that can be paged through: min(matching, cap).
    total: int
    # More records matched than the cap; only the first `cap` (by start time) are reachable.
    truncated: bool
    cap: int

    def to_response(self, *, pagination: bool = True) -> dict[str, Any]:
        """The response body: `metadata` and `processingActivities` (+ `pagination`)."""
        body: dict[str, Any] = {"metadata": dict(self.metadata), "processingActivities": self.items}
        if pagination:
            body["pagination"] = {
                "page": self.page,
                "pageSize": self.page_size,
                "total": self.total,
                "pages": math.ceil(self.total / self.page_size) if self.total else 0,
                "truncated": self.truncated,
                "cap": self.cap,
            }
        return body


def _ceil_ms(moment: datetime) -> int:
    """The first whole millisecond at or after `moment`."""
    whole, rest = divmod(moment - EPOCH, _ONE_MS)
    return int(whole) + (1 if rest else 0)


def confidential_condition(register_engine: Engine) -> ColumnElement[bool] | None:
    """SQL condition on log_record: the record's activity was `vertrouwelijk` at its start time.

    "At its start time" means as `RegisterStore.by_uri_as_of` resolves it: the newest version
    recorded at or before the start. A tombstone keeps the document of the last version, so an
    activity that was confidential when it was taken out of the register stays confidential.
    The register is small, so its activity versions are read once and turned into
    (URI, [from, until)) millisecond ranges.
    """
    v = register_entry_version
    query = (
        select(v.c.uri, v.c.recorded_at, v.c.document)
        .where(v.c.kind == KIND_ACTIVITY)
        .order_by(v.c.uri, v.c.recorded_at, v.c.version)
    )
    versions: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
    with register_engine.connect() as conn:
        for row in conn.execute(query):
            document = row.document if isinstance(row.document, Mapping) else {}
            versions[row.uri].append(
                (row.recorded_at, document.get("confidentiality") == CONFIDENTIAL)
            )
    t = log_record
    per_uri: list[ColumnElement[bool]] = []
    for uri, rows in versions.items():
        ranges: list[ColumnElement[bool]] = []
        for position, (recorded_at, confidential) in enumerate(rows):
            if not confidential:
                continue
            lower = t.c.start_time_ms >= _ceil_ms(recorded_at)
            if position + 1 < len(rows):
                ranges.append(and_(lower, t.c.start_time_ms < _ceil_ms(rows[position + 1][0])))
            else:
                ranges.append(lower)
        if ranges:
            per_uri.append(and_(t.c.processing_activity_id == uri, or_(*ranges)))
    return or_(*per_uri) if per_uri else None


def _conditions(
    register_store: RegisterStore,
    pseudonymizer: Pseudonymizer,
    organisation_id: str,
    read_filter: ReadFilter,
    *,
    resident: bool,
) -> list[ColumnElement[bool]]:
    t = log_record
    conditions: list[ColumnElement[bool]] = [t.c.organisation_id == organisation_id]
    if resident and read_filter.data_subject_id is None:
        raise ReadError(f"{ATTR_SUBJECT_ID}: a resident read must filter on the resident's own id")
    if read_filter.trace_id is not None:
        conditions.append(t.c.trace_id == read_filter.trace_id)
    if read_filter.processing_activity_id is not None:
        conditions.append(t.c.processing_activity_id == read_filter.processing_activity_id)
    if read_filter.data_subject_id is not None:
        pseudonyms = pseudonymizer.all_pseudonyms(
            organisation_id, read_filter.data_subject_id_type, read_filter.data_subject_id
        )
        conditions.append(t.c.data_subject_pseudonym.in_(pseudonyms))
    if read_filter.processor is not None:
        conditions.append(t.c.processor == read_filter.processor)
    if read_filter.start_time is not None:
        conditions.append(t.c.start_time_ms >= read_filter.start_time)
    if read_filter.end_time is not None:
        # start <= end for every stored record; the first bound lets the index on start help.
        conditions.append(t.c.start_time_ms <= read_filter.end_time)
        conditions.append(t.c.end_time_ms <= read_filter.end_time)
    if resident:
        confidential = confidential_condition(register_store.engine)
        if confidential is not None:
            conditions.append(not_(confidential))
    return conditions


@dataclass
class _Page:
    rows: list[Any]
    page: int
    page_size: int
    total: int
    truncated: bool
    cap: int


def _select_page(
    engine: Engine, conditions: Sequence[ColumnElement[bool]], page: int, page_size: int, cap: int
) -> _Page:
    if cap < 1:
        raise ReadError("cap: must be at least 1")
    if page < 1:
        raise ReadError("page: must be 1 or more")
    if not 1 <= page_size <= min(MAX_PAGE_SIZE, cap):
        raise ReadError(f"pageSize: must be between 1 and {min(MAX_PAGE_SIZE, cap)}")
    offset = (page - 1) * page_size
    if offset >= cap:
        raise ReadError(
            f"page: {page} starts beyond the result cap of {cap} records; narrow the filter "
            "(for example with startTime and endTime)"
        )
    t = log_record
    # Count no further than one past the cap: enough to know whether the result is truncated.
    capped = select(t.c.id).where(*conditions).limit(cap + 1).subquery()
    query = (
        select(t)
        .where(*conditions)
        .order_by(t.c.start_time_ms, t.c.id)
        .offset(offset)
        .limit(min(page_size, cap - offset))
    )
    with engine.connect() as conn:
        rows = list(conn.execute(query))
        if offset == 0 and len(rows) < min(page_size, cap):
            # The first page holds every match (a resident's read, mostly): nothing to count.
            return _Page(rows, page, page_size, len(rows), False, cap)
        matching = int(conn.execute(select(func.count()).select_from(capped)).scalar_one())
    return _Page(rows, page, page_size, min(matching, cap), matching > cap, cap)


def record_item(row: Any, *, resident: bool) -> dict[str, Any]:
    """One stored record in the read extension's shape, without the data subject id."""
    attributes: dict[str, Any] = {}
    if not resident:
        attributes.update(row.attributes or {})
    attributes[ATTR_ACTIVITY] = row.processing_activity_id
    if row.data_subject_id_type is not None:
        attributes[ATTR_SUBJECT_TYPE] = row.data_subject_id_type
    if row.processor is not None:
        attributes[ATTR_PROCESSOR] = row.processor
    item: dict[str, Any] = {
        "traceId": row.trace_id,
        "spanId": row.span_id,
        "status": row.status,
        "name": row.name,
        "startTime": int(row.start_time_ms),
        "endTime": int(row.end_time_ms),
    }
    if row.parent_span_id is not None:
        item["parentSpanId"] = row.parent_span_id
    if row.resource is not None:
        item["resource"] = row.resource
    item["attributes"] = attributes
    return item


def logbook_metadata(
    snapshot: RegisterSnapshot, organisation_id: str, logbook_id: str | None = None
) -> dict[str, str]:
    """`{logbookId, organizationName}`; the name comes from the current register."""
    register = snapshot.organisation(organisation_id)
    name = register.org.name if register is not None else organisation_id
    return {"logbookId": logbook_id or organisation_id, "organizationName": name}


def read_processing(
    engine: Engine,
    register_store: RegisterStore,
    pseudonymizer: Pseudonymizer,
    organisation_id: str,
    filter: ReadFilter,
    *,
    resident: bool,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    cap: int = DEFAULT_CAP,
    logbook_id: str | None = None,
    snapshot: RegisterSnapshot | None = None,
) -> ReadResult:
    """Answer a read-extension request for one organisation's logbook (one page of it).

    Raises `ReadError` for a resident read without a subject filter, bad paging values or a
    page beyond the cap. Log the read itself with `access_request_record`. `snapshot` is the
    register the caller already holds (asking the store for it is a query).
    """
    conditions = _conditions(
        register_store, pseudonymizer, organisation_id, filter, resident=resident
    )
    found = _select_page(engine, conditions, page, page_size, cap)
    return ReadResult(
        metadata=logbook_metadata(
            snapshot or register_store.snapshot(), organisation_id, logbook_id
        ),
        items=[record_item(row, resident=resident) for row in found.rows],
        page=found.page,
        page_size=found.page_size,
        total=found.total,
        truncated=found.truncated,
        cap=found.cap,
    )


def access_request_record(
    activity_uri: str,
    *,
    subject_id: str | None,
    subject_id_type: str = DEFAULT_SUBJECT_TYPE,
    start_time_ms: int,
    end_time_ms: int | None = None,
    status: str = "Ok",
    name: str = ACCESS_REQUEST_NAME,
    trace_id: str | None = None,
    parent_span_id: str | None = None,
    resource: Mapping[str, Any] | None = None,
    processor: str | None = None,
    extra_attributes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The LDV record (core write format) of one read of the logbook, ready for `ingest`.

    `activity_uri` is the register's processing activity for access requests (the caller's
    configuration). `subject_id` is the person whose records were read (None for a read without
    a subject filter); the logbook pseudonymises it on ingest. A new trace id is made unless the
    caller continues an incoming trace (`trace_id`, `parent_span_id` from `traceparent`); the
    span id is always new. `status` is `Ok`, or `Error` when the read failed internally (a
    refused request is `Unset`). The record is validated with `parse_record` (RecordError).

    Ingest it after the read: `LogStore.ingest(organisation_id, [record])`.
    """
    attributes: dict[str, Any] = dict(extra_attributes or {})
    attributes[ATTR_ACTIVITY] = activity_uri
    if subject_id is not None:
        attributes[ATTR_SUBJECT_ID] = subject_id
        attributes[ATTR_SUBJECT_TYPE] = subject_id_type
    if processor is not None:
        attributes[ATTR_PROCESSOR] = processor
    record: dict[str, Any] = {
        "trace_id": trace_id or new_trace_id(),
        "span_id": new_span_id(),
        "name": name,
        "start_time": start_time_ms,
        "end_time": end_time_ms if end_time_ms is not None else start_time_ms,
        "status": status,
        "attributes": attributes,
    }
    if parent_span_id is not None:
        record["parent_span_id"] = parent_span_id
    if resource is not None:
        record["resource"] = {"attributes": dict(resource)}
    parse_record(record)
    return record


# --- The resident's overview ("Mijn verwerkingen") ------------------------------------------

_DURATION = re.compile(
    r"P(?:(?P<Y>\d+)Y)?(?:(?P<Mo>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?:(?P<H>\d+)H)?(?:(?P<Mi>\d+)M)?(?:(?P<S>\d+)S)?)?"
)
_UNITS = (
    ("Y", "jaar", "jaar"),
    ("Mo", "maand", "maanden"),
    ("W", "week", "weken"),
    ("D", "dag", "dagen"),
    ("H", "uur", "uur"),
    ("Mi", "minuut", "minuten"),
    ("S", "seconde", "seconden"),
)


def duration_text(period: str) -> str:
    """An ISO 8601 duration in Dutch words (`P6M` → `6 maanden`); unusual forms as given."""
    match = _DURATION.fullmatch(period)
    if match is None:
        return period
    parts = []
    for group, one, many in _UNITS:
        value = match.group(group)
        if value is not None:
            number = int(value)
            parts.append(f"{number} {one if number == 1 else many}")
    if not parts:
        return period
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " en " + parts[-1]


def retention_text(activity: ProcessingActivity) -> list[str]:
    """One Dutch line per retention rule, e.g. `onbetaald: 6 maanden na einde bezwaartermijn`."""
    lines = []
    for rule in activity.retention:
        if rule.period is not None:
            text = duration_text(rule.period)
            if rule.trigger:
                text += f" na {rule.trigger}"
        else:
            text = f"tot {rule.trigger}"
        if rule.description:
            text += f" ({rule.description})"
        lines.append(f"{rule.outcome}: {text}")
    return lines


@dataclass(frozen=True)
class LawLink:
    label: str
    link: str


@dataclass(frozen=True)
class ResidentEntry:
    """One processing of the resident's data, explained with the register version of its time."""

    date: datetime
    start_time: int
    trace_id: str
    action: str
    status: str
    activity_uri: str
    # False: the URI did not resolve to a processing activity at that time; the fields below
    # are then empty and the portal says so.
    activity_known: bool
    activity_name: str | None = None
    departments: list[str] = field(default_factory=list)
    purposes: list[str] = field(default_factory=list)
    legal_basis: str | None = None
    legal_basis_explanation: str | None = None
    laws: list[LawLink] = field(default_factory=list)
    retention: list[str] = field(default_factory=list)


@dataclass
class ResidentOverview:
    items: list[ResidentEntry]
    page: int
    page_size: int
    total: int
    truncated: bool
    cap: int


def _activities_at(
    register_engine: Engine, items: Sequence[tuple[str, datetime]]
) -> list[ProcessingActivity | None]:
    """The activity version in force at each (URI, moment): one query for all URIs."""
    uris = sorted({uri for uri, _ in items})
    versions: dict[str, list[Any]] = defaultdict(list)
    v = register_entry_version
    with register_engine.connect() as conn:
        for start in range(0, len(uris), _LOOKUP_CHUNK):
            query = (
                select(v.c.uri, v.c.recorded_at, v.c.kind, v.c.removed, v.c.document)
                .where(v.c.uri.in_(uris[start : start + _LOOKUP_CHUNK]))
                .order_by(v.c.uri, v.c.recorded_at, v.c.version)
            )
            for row in conn.execute(query):
                versions[row.uri].append(row)
    times = {uri: [r.recorded_at for r in rows] for uri, rows in versions.items()}
    parsed: dict[tuple[str, int], ProcessingActivity | None] = {}
    result: list[ProcessingActivity | None] = []
    for uri, moment in items:
        position = bisect.bisect_right(times.get(uri, []), moment)
        if position == 0:
            result.append(None)
            continue
        key = (uri, position)
        if key not in parsed:
            row = versions[uri][position - 1]
            entry = parse_entry(row.document) if row.kind == KIND_ACTIVITY else None
            parsed[key] = entry if isinstance(entry, ProcessingActivity) else None
        result.append(parsed[key])
    return result


def resident_overview(
    engine: Engine,
    register_store: RegisterStore,
    pseudonymizer: Pseudonymizer,
    organisation_id: str,
    subject_id: str,
    *,
    subject_id_type: str = DEFAULT_SUBJECT_TYPE,
    start_time: int | None = None,
    end_time: int | None = None,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    cap: int = DEFAULT_CAP,
) -> ResidentOverview:
    """The resident's processings, oldest first, each with its register activity of that time.

    Same selection as a resident `read_processing` (all keys, confidential activities left out).
    A tombstoned activity is still explained from its last document: it was in force once.
    """
    read_filter = ReadFilter.model_validate(
        {
            "data_subject_id": subject_id,
            "data_subject_id_type": subject_id_type,
            "start_time": start_time,
            "end_time": end_time,
        }
    )
    conditions = _conditions(
        register_store, pseudonymizer, organisation_id, read_filter, resident=True
    )
    found = _select_page(engine, conditions, page, page_size, cap)
    moments = [
        (row.processing_activity_id, ms_to_datetime(int(row.start_time_ms))) for row in found.rows
    ]
    activities = _activities_at(register_store.engine, moments)
    items = []
    for row, (_, moment), activity in zip(found.rows, moments, activities, strict=True):
        entry = ResidentEntry(
            date=moment,
            start_time=int(row.start_time_ms),
            trace_id=row.trace_id,
            action=row.name,
            status=row.status,
            activity_uri=row.processing_activity_id,
            activity_known=activity is not None,
        )
        if activity is not None:
            basis = activity.legal_basis
            entry = replace(
                entry,
                activity_name=activity.name,
                departments=list(activity.departments),
                purposes=list(activity.purposes),
                legal_basis=basis.avg_ground_label,
                legal_basis_explanation=basis.explanation,
                laws=[LawLink(law.label, law.effective_link) for law in basis.laws],
                retention=retention_text(activity),
            )
        items.append(entry)
    return ResidentOverview(
        items, found.page, found.page_size, found.total, found.truncated, found.cap
    )
