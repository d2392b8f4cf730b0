"""All tables of all domains, gathered for Alembic; each domain still owns its own tables module."""

from glazenstad.audit import tables as _audit_tables  # noqa: F401
from glazenstad.db.base import metadata
from glazenstad.execution import tables as _execution_tables  # noqa: F401
from glazenstad.execution.parking import tables as _parking_tables  # noqa: F401
from glazenstad.insight.compliance import tables as _compliance_tables  # noqa: F401
from glazenstad.insight.incidents import tables as _incident_tables  # noqa: F401
from glazenstad.insight.peers import tables as _peer_tables  # noqa: F401
from glazenstad.insight.signals import tables as _signal_tables  # noqa: F401
from glazenstad.logbook import tables as _logbook_tables  # noqa: F401
from glazenstad.register import tables as _register_tables  # noqa: F401  (registers the tables)
from glazenstad.rules import tables as _rules_tables  # noqa: F401

__all__ = ["metadata"]
