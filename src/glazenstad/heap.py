"""The heap of a long-running server process, set aside from the cyclic garbage collector.

What a server builds at start-up (frameworks, the register, compiled policies) lives as long
as the process. Left in the collector's generations, every full collection walks all of it
again, while each request or batch allocates many short-lived objects that trigger
collections: in the logbook server that was a third of ingest CPU, and in the gateway
it made the slowest requests under load twice as slow (p99 about 190 ms against 75-90 ms with
the heap frozen; docs/performance.md). The demo sources do the same on their own: like the
source systems they stand in for, they import nothing of the platform.
"""

from __future__ import annotations

import gc

# A young generation this large is collected about once per log batch rather than dozens of
# times; the older generations keep their defaults.
_YOUNG_THRESHOLD = 50_000


def freeze_startup_heap() -> None:
    """Collect once, then move everything alive into the permanent generation, which no
    collection visits. Call when start-up is done, in the serving process."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(_YOUNG_THRESHOLD, 20, 20)
