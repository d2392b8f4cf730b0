"""Measured compliance: checks on what actually happened, and a score with its history.

Entry points for other parts (CLI, API, portal, dashboard, council report):
`run_checks(engine, register_store, organisation_id, now)` measures and returns a
`ComplianceReport`; `store_snapshot` keeps its figures; `score_history` reads them back.

The names are loaded on first use, so importing the package for its tables (the migrations
import every domain's tables) does not load the checks and what they read.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glazenstad.insight.compliance.checks import CHECKS, WEIGHTING_VERSION, ComplianceCheck
    from glazenstad.insight.compliance.history import (
        Snapshot,
        activity_history,
        score_history,
        store_snapshot,
    )
    from glazenstad.insight.compliance.model import (
        ActivityScore,
        CheckResult,
        ComplianceReport,
        EvidenceItem,
        EvidenceLink,
        Example,
        Figure,
    )
    from glazenstad.insight.compliance.run import OrganisationNotFound, run_checks

_WHERE = {
    "CHECKS": "checks",
    "WEIGHTING_VERSION": "checks",
    "ComplianceCheck": "checks",
    "Snapshot": "history",
    "activity_history": "history",
    "score_history": "history",
    "store_snapshot": "history",
    "ActivityScore": "model",
    "CheckResult": "model",
    "ComplianceReport": "model",
    "EvidenceItem": "model",
    "EvidenceLink": "model",
    "Example": "model",
    "Figure": "model",
    "OrganisationNotFound": "run",
    "run_checks": "run",
}

__all__ = [
    "CHECKS",
    "WEIGHTING_VERSION",
    "ActivityScore",
    "CheckResult",
    "ComplianceCheck",
    "ComplianceReport",
    "EvidenceItem",
    "EvidenceLink",
    "Example",
    "Figure",
    "OrganisationNotFound",
    "Snapshot",
    "activity_history",
    "run_checks",
    "score_history",
    "store_snapshot",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
