"""What grows inside a server process under soak, for `benchmarks.soak --trace-memory`.

Resident memory (RSS) growing may be Python objects that are kept (a leak, an unbounded
cache) or the allocator keeping freed memory (more threads, more malloc arenas; fragmentation).
Only the first shows in Python's own accounting, so this module, imported at start-up of the
server process through a `sitecustomize` the soak benchmark puts on its `PYTHONPATH`, starts
`tracemalloc` and every five seconds writes one JSON line with the memory Python has allocated,
the process's RSS and its thread count. When the file `<output>.first` appears it takes a
snapshot, when `<output>.second` appears another, and writes the allocation sites that grew
most between them to `<output>.top.txt` (the soak benchmark creates the two files at the start
of the second half and near the end). Kept out of `benchmarks.soak` so that the server imports
nothing else for it.

Environment: GLAZENSTAD_MEMTRACE (the output path).
"""

from __future__ import annotations

import json
import os
import threading
import time
import tracemalloc
from pathlib import Path

EVERY = 5.0
TOP = 30


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def _snapshot() -> tracemalloc.Snapshot:
    return tracemalloc.take_snapshot().filter_traces(
        (
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
        )
    )


def _watch(out: Path) -> None:
    started = time.monotonic()
    first: tracemalloc.Snapshot | None = None
    first_t = 0.0
    done = False
    while True:
        time.sleep(EVERY)
        t = time.monotonic() - started
        current, _ = tracemalloc.get_traced_memory()
        line = {
            "t_s": round(t, 1),
            "traced_mb": round(current / 2**20, 2),
            "rss_mb": round(_status("VmRSS") / 1024, 1),
            "threads": _status("Threads"),
        }
        with out.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
        if first is None and out.with_suffix(".first").exists():
            first, first_t = _snapshot(), t
        elif first is not None and not done and out.with_suffix(".second").exists():
            stats = _snapshot().compare_to(first, "lineno")
            lines = [f"growth of traced memory from {first_t:.0f} s to {t:.0f} s, by line:"]
            lines += [str(stat) for stat in stats[:TOP]]
            out.with_suffix(".top.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
            done = True


def start() -> None:
    """Start tracing in this process if the environment asks for it."""
    out = os.environ.get("GLAZENSTAD_MEMTRACE")
    if not out:
        return
    tracemalloc.start(1)
    threading.Thread(target=_watch, args=(Path(out),), name="memtrace", daemon=True).start()
