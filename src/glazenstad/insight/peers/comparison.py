"""The peer comparison of an installation: who publishes, their figures, and one's standing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from glazenstad.insight.peers.figures import PeerFigures, Standing, peer_figures, standings
from glazenstad.insight.peers.publication import published_organisations
from glazenstad.register.store import RegisterSnapshot


@dataclass(frozen=True)
class Comparison:
    """What one organisation sees: its own figures, and its standing if it publishes."""

    own: PeerFigures
    published: bool
    peers: int
    """Publishing organisations on the installation, this one included when it publishes."""
    standings: list[Standing]
    """Empty unless this organisation publishes: whoever compares, is compared."""


def published_figures(
    engine: Engine, snapshot: RegisterSnapshot, now: datetime
) -> list[PeerFigures]:
    """The figures of every organisation that publishes, by name."""
    chosen = published_organisations(engine)
    figures = [
        peer_figures(engine, register, now)
        for register in snapshot.ordered()
        if register.organisation.organisation_id in chosen
    ]
    return sorted(figures, key=lambda f: f.organisation_name)


def compare(
    engine: Engine, snapshot: RegisterSnapshot, organisation_id: str, now: datetime
) -> Comparison | None:
    """The comparison for `organisation_id`; None when it is not in the register."""
    register = snapshot.organisation(organisation_id)
    if register is None:
        return None
    own = peer_figures(engine, register, now)
    others = published_figures(engine, snapshot, now)
    publishes = any(f.organisation_id == organisation_id for f in others)
    return Comparison(
        own=own,
        published=publishes,
        peers=len(others),
        standings=standings(own, others) if publishes else [],
    )
