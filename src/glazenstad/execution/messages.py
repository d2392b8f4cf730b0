"""Reading the MQTT messages of scan cars and sensors: topic, JSON payload, times.

Both pipelines take the same kind of message (a topic naming organisation and device, a small
JSON object, a time with a time zone) and must refuse a bad one with a reason that names the
field but never repeats a value (a plate must not end up in a finding). The checks they share
live here; each pipeline turns a `PayloadError` into its own error type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


class PayloadError(ValueError):
    """Why a message is refused; `organisation_id` once the topic named a valid one."""

    def __init__(self, reason: str, organisation_id: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.organisation_id = organisation_id


def topic_ids(topic: str, root: str, segment: str, device: str) -> tuple[str, str]:
    """(organisation id, device id) of `<root>/<organisationId>/<segment>/<deviceId>`."""
    prefix = f"{root}/"
    parts = topic[len(prefix) :].split("/") if topic.startswith(prefix) else []
    if len(parts) != 3 or parts[1] != segment:
        raise PayloadError(f"topic: must be {root}/<organisationId>/{segment}/<{device}Id>")
    organisation_id, _segment, device_id = parts
    if not _ID.fullmatch(organisation_id):
        raise PayloadError(
            "topic: the organisation id must be lowercase letters, digits and hyphens"
        )
    if not _ID.fullmatch(device_id):
        raise PayloadError(
            f"topic: the {device} id must be lowercase letters, digits and hyphens",
            organisation_id,
        )
    return organisation_id, device_id


def json_object(payload: bytes, max_bytes: int, fields: Collection[str]) -> dict[str, Any]:
    """The payload as a JSON object with no fields but `fields`."""
    if len(payload) > max_bytes:
        raise PayloadError(f"payload: larger than {max_bytes} bytes")
    try:
        document = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadError("payload: not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"payload: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise PayloadError("payload: nested too deeply") from None
    if not isinstance(document, dict):
        raise PayloadError(f"payload: must be a JSON object with {', '.join(sorted(fields))}")
    unknown = sorted(set(document) - set(fields))
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:3])
        raise PayloadError(f"payload: unknown field {shown} (allowed: {', '.join(sorted(fields))})")
    return document


def moment(raw: Any, name: str, now: datetime, max_future: timedelta) -> datetime:
    """An ISO 8601 date-time with a time zone, in UTC, not further ahead than `max_future`."""
    if not isinstance(raw, str):
        raise PayloadError(f"{name}: must be an ISO 8601 date-time string")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise PayloadError(
            f"{name}: not an ISO 8601 date-time, e.g. 2026-12-01T10:15:00+01:00"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise PayloadError(f"{name}: needs a time zone, e.g. Z or +01:00")
    value = value.astimezone(UTC)
    if value > now + max_future:
        minutes = int(max_future.total_seconds() // 60)
        raise PayloadError(f"{name}: more than {minutes} minutes in the future")
    return value
