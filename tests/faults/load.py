"""API load for the fault tests: decision and log-batch clients that keep a ledger of answers.

A client behaves as a real one should: a 200 is an acknowledgement (the write is durable), a
503 or 507 with Retry-After means "nothing stored, send again", and a request without an answer
(the server died) leaves its fate unknown, so the same request is sent again later. Log batches
are re-sent as they were (the logbook takes known records as duplicates); a decision is asked
again as a new request, since a decision without a receipt was never given to anyone.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

from tests.faults.support import (
    API_HEADERS,
    DECISIONS_URL,
    ORG,
    RECORDS_URL,
    decision_body,
    log_records,
)

Key = tuple[str, str]
RETRYABLE = (503, 507)
# Long enough for a commit under load, short enough that a hung request fails the test in time.
REQUEST_TIMEOUT_S = 30.0
# The tests honour Retry-After up to this many seconds, to stay short.
MAX_PAUSE_S = 0.5


@dataclass
class Refusal:
    """A non-200 answer, kept whole for the assertions."""

    what: str
    status: int
    headers: dict[str, str]
    body: str
    at: float


@dataclass
class Ledger:
    """What was sent and what was acknowledged, shared by the client threads."""

    activity: str
    run: str
    batch_size: int = 50
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    batch_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(0))
    decisions: list[str] = field(default_factory=list)
    decision_times: list[float] = field(default_factory=list)
    batches: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    acknowledged_batches: dict[int, float] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    # --- what the tests read ---------------------------------------------------------------

    def acknowledged_records(self) -> set[Key]:
        with self.lock:
            numbers = list(self.acknowledged_batches)
        return {(r["trace_id"], r["span_id"]) for n in numbers for r in self.batches[n]}

    def unacknowledged_batches(self) -> list[int]:
        with self.lock:
            return [n for n in self.batches if n not in self.acknowledged_batches]

    def sent_records(self) -> set[Key]:
        with self.lock:
            batches = list(self.batches.values())
        return {(r["trace_id"], r["span_id"]) for batch in batches for r in batch}

    def counts(self) -> tuple[int, int]:
        """(decisions acknowledged, log batches acknowledged)."""
        with self.lock:
            return len(self.decisions), len(self.acknowledged_batches)

    def acknowledged_since(self, moment: float) -> tuple[int, int]:
        with self.lock:
            decided = sum(1 for t in self.decision_times if t > moment)
            logged = sum(1 for t in self.acknowledged_batches.values() if t > moment)
        return decided, logged

    def summary(self) -> str:
        with self.lock:
            refusals = [f"{r.what}: {r.status} {r.body[:200]}" for r in self.refusals[-3:]]
            return (
                f"acknowledged {len(self.decisions)} decisions, {len(self.acknowledged_batches)} "
                f"batches; last refusals {refusals}; transport errors "
                f"{self.transport_errors[-3:]}; unexpected {self.unexpected[-3:]}"
            )

    # --- clients -----------------------------------------------------------------------------

    def decision_client(self, base_url: str, *, end_on_transport_error: bool) -> None:
        """Ask for decisions until stopped; a 200 answer's decision id is acknowledged."""
        with httpx.Client(
            base_url=base_url, timeout=REQUEST_TIMEOUT_S, headers=API_HEADERS
        ) as http:
            while not self.stop.is_set():
                if not self._send(
                    http,
                    "decision",
                    lambda: http.post(DECISIONS_URL, json=decision_body()),
                    self._decided,
                    end_on_transport_error,
                ):
                    return

    def log_client(self, base_url: str, *, end_on_transport_error: bool) -> None:
        """Send new log batches until stopped; a refused batch is sent again, unchanged."""
        with httpx.Client(
            base_url=base_url, timeout=REQUEST_TIMEOUT_S, headers=API_HEADERS
        ) as http:
            while not self.stop.is_set():
                number = self._new_batch()
                body = {"organisationId": ORG, "records": self.batches[number]}
                while not self.stop.is_set() and number not in self.acknowledged_batches:
                    if not self._send(
                        http,
                        f"log batch {number}",
                        partial(http.post, RECORDS_URL, json=body),
                        partial(self._logged, number),
                        end_on_transport_error,
                    ):
                        return

    def resend_unacknowledged(self, base_url: str) -> None:
        """After a crash: send every batch without an acknowledgement again, once, as it was."""
        with httpx.Client(
            base_url=base_url, timeout=REQUEST_TIMEOUT_S, headers=API_HEADERS
        ) as http:
            for number in self.unacknowledged_batches():
                body = {"organisationId": ORG, "records": self.batches[number]}
                response = http.post(RECORDS_URL, json=body)
                assert response.status_code == 200, (number, response.status_code, response.text)
                self._logged(number, response)

    def _new_batch(self) -> int:
        with self.lock:
            number = next(self.batch_numbers)
            self.batches[number] = log_records(self.activity, number, self.batch_size, self.run)
            return number

    def _decided(self, response: httpx.Response) -> None:
        decision_id = response.json()["receipt"]["decisionId"]
        with self.lock:
            self.decisions.append(decision_id)
            self.decision_times.append(time.monotonic())

    def _logged(self, number: int, response: httpx.Response) -> None:
        answer = response.json()
        if answer["rejected"] or answer["accepted"] + answer["duplicates"] != self.batch_size:
            with self.lock:
                self.unexpected.append(f"log batch {number}: {answer}")
            return
        with self.lock:
            self.acknowledged_batches[number] = time.monotonic()

    def _send(
        self,
        http: httpx.Client,
        what: str,
        request: Callable[[], httpx.Response],
        acknowledged: Callable[[httpx.Response], None],
        end_on_transport_error: bool,
    ) -> bool:
        """One request; False when this client should end."""
        try:
            response = request()
        except httpx.TransportError as exc:
            with self.lock:
                self.transport_errors.append(f"{what}: {exc!r}")
            if end_on_transport_error:
                return False
            time.sleep(MAX_PAUSE_S)
            return True
        if response.status_code == 200:
            acknowledged(response)
            return not self.unexpected
        refusal = Refusal(
            what, response.status_code, dict(response.headers), response.text, time.monotonic()
        )
        with self.lock:
            self.refusals.append(refusal)
        if response.status_code not in RETRYABLE:
            with self.lock:
                self.unexpected.append(f"{what}: HTTP {response.status_code} {response.text[:300]}")
            return False
        pause = float(response.headers.get("retry-after", "1"))
        time.sleep(min(pause, MAX_PAUSE_S))
        return True


def start_clients(
    ledger: Ledger, base_url: str, *, decisions: int, logs: int, end_on_transport_error: bool
) -> list[threading.Thread]:
    threads = [
        threading.Thread(
            target=ledger.decision_client,
            args=(base_url,),
            kwargs={"end_on_transport_error": end_on_transport_error},
            daemon=True,
        )
        for _ in range(decisions)
    ] + [
        threading.Thread(
            target=ledger.log_client,
            args=(base_url,),
            kwargs={"end_on_transport_error": end_on_transport_error},
            daemon=True,
        )
        for _ in range(logs)
    ]
    for thread in threads:
        thread.start()
    return threads


def wait_until(condition: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
    """Poll `condition`; on time-out fail with `what()`, which describes the state then."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what()}")
        time.sleep(0.05)
