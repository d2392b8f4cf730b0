"""Signals from execution: staff tell a rule's owner that a rule blocks their work.

A member of staff whose work was denied files a signal about the decision (its receipt in the
decision log) and the rule that denied it; whoever answers for that rule takes it under review
and closes it: rule changed, explained, or rejected, always with a response. Every step is kept
in an append-only history. Counts per rule go to the dashboard; aggregate numbers are public.

The names below are loaded on first use, so importing the tables (for migrations) does not
load the rules engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glazenstad.insight.signals.access import Actor
    from glazenstad.insight.signals.decisions import (
        FALLBACK_OWNER,
        BlockingRule,
        DeniedDecision,
        denied_decision,
        rule_owner,
    )
    from glazenstad.insight.signals.errors import (
        SignalConflict,
        SignalError,
        SignalForbidden,
        SignalInputError,
        SignalNotFound,
    )
    from glazenstad.insight.signals.figures import (
        PublicSignalFigures,
        RuleSignalCount,
        SignalCounts,
        public_signal_figures,
        signal_counts,
    )
    from glazenstad.insight.signals.store import Signal, SignalEvent, SignalStore

_EXPORTS = {
    "Actor": "access",
    "FALLBACK_OWNER": "decisions",
    "BlockingRule": "decisions",
    "DeniedDecision": "decisions",
    "denied_decision": "decisions",
    "rule_owner": "decisions",
    "SignalConflict": "errors",
    "SignalError": "errors",
    "SignalForbidden": "errors",
    "SignalInputError": "errors",
    "SignalNotFound": "errors",
    "PublicSignalFigures": "figures",
    "RuleSignalCount": "figures",
    "SignalCounts": "figures",
    "public_signal_figures": "figures",
    "signal_counts": "figures",
    "Signal": "store",
    "SignalEvent": "store",
    "SignalStore": "store",
}

__all__ = [
    "FALLBACK_OWNER",
    "Actor",
    "BlockingRule",
    "DeniedDecision",
    "PublicSignalFigures",
    "RuleSignalCount",
    "Signal",
    "SignalConflict",
    "SignalCounts",
    "SignalError",
    "SignalEvent",
    "SignalForbidden",
    "SignalInputError",
    "SignalNotFound",
    "SignalStore",
    "denied_decision",
    "public_signal_figures",
    "rule_owner",
    "signal_counts",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
