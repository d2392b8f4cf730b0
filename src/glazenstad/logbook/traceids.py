"""Trace and span ids for the work Glazen Stad starts itself (W3C Trace Context, LDV).

Random and never all zeros, the value W3C Trace Context calls invalid. They come from the
`random` module, as OpenTelemetry's own `RandomIdGenerator` does, rather than from `secrets`: an
id correlates records, it guards nothing, and `os.urandom` is a system call that releases the
interpreter lock. On the gateway, whose event loop shares the lock with its log writer thread,
that was one more hand-over per request; without it the gateway served about a fifth more
requests (docs/performance.md).
"""

from __future__ import annotations

import random


def new_trace_id() -> str:
    """32 lowercase hex digits."""
    while True:
        value = random.getrandbits(128)
        if value:
            return f"{value:032x}"


def new_span_id() -> str:
    """16 lowercase hex digits."""
    while True:
        value = random.getrandbits(64)
        if value:
            return f"{value:016x}"
