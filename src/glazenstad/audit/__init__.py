"""The audit trail of policy and register changes: who did what, when, why (four-eyes rule)."""
