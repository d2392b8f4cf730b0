"""What the web layer shares per application: settings, engine and the domain stores."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Engine

from glazenstad.db.replica import ReadRouter
from glazenstad.logbook.store import LogStore
from glazenstad.register.store import RegisterStore
from glazenstad.rules.decisionlog import DecisionLog
from glazenstad.rules.service import RulesService
from glazenstad.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    register: RegisterStore
    rules: RulesService
    decision_log: DecisionLog
    logbook: LogStore
    # Residents' reads of their own processings: the replica when one is configured (else
    # `engine`), with fallback to the primary (docs/replica.md).
    reads: ReadRouter


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.glazenstad
    return state
