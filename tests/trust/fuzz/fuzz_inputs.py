"""Coverage-guided fuzzing (atheris/libFuzzer) of the register, policy and OTLP decoders.

The hypothesis tests next to this directory run in the suite; this harness runs on demand, for
as long as one likes, and keeps the inputs that reached new code in a corpus directory. Any
exception other than the domain's own refusal is a finding: libFuzzer stops and writes the input
to `crash-<hash>`.

    .venv/bin/pip install atheris
    .venv/bin/python tests/trust/fuzz/fuzz_inputs.py register  -atheris_runs=100000 CORPUS_DIR
    .venv/bin/python tests/trust/fuzz/fuzz_inputs.py policies  -max_total_time=600
    .venv/bin/python tests/trust/fuzz/fuzz_inputs.py otlp-protobuf
    .venv/bin/python tests/trust/fuzz/fuzz_inputs.py otlp-json

Arguments after the target go to libFuzzer (`-help=1` lists them).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris  # type: ignore[import-not-found]

with atheris.instrument_imports():
    from glazenstad.logbook.otlp import OtlpError, decode_request, spans_to_records
    from glazenstad.register.loader import RegisterValidationError, parse_register
    from glazenstad.rules.loader import PolicyValidationError, parse_policies

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
WORK = Path(tempfile.mkdtemp(prefix="glazenstad-atheris-"))


def _tree_target(
    source: Path, relative: str, load: Callable[[Path], object], error: type
) -> Callable[[bytes], None]:
    """Replace one file of a copy of a valid tree with the input and load the tree."""
    tree = WORK / source.name
    shutil.copytree(source, tree)
    target = tree / relative

    def run(data: bytes) -> None:
        target.write_bytes(data)
        with contextlib.suppress(error):  # the domain's refusal is the expected outcome
            load(tree)

    return run


def _otlp_target(content_type: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        try:
            request = decode_request(data, content_type)
        except OtlpError:
            return
        spans_to_records(request)

    return run


TARGETS: dict[str, Callable[[], Callable[[bytes], None]]] = {
    "register": lambda: _tree_target(
        FIXTURES / "register", "teststad/organisation.yaml", parse_register, RegisterValidationError
    ),
    "policies": lambda: _tree_target(
        FIXTURES / "policies", "teststad/policy.yaml", parse_policies, PolicyValidationError
    ),
    "otlp-protobuf": lambda: _otlp_target("application/x-protobuf"),
    "otlp-json": lambda: _otlp_target("application/json"),
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer options]")
    run = TARGETS[sys.argv[1]]()
    atheris.Setup([sys.argv[0], *sys.argv[2:]], run)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
