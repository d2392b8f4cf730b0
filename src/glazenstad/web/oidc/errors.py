"""Why an OpenID Connect step failed, as a reason that is safe to log and to show an operator.

Reasons name the check that failed (signature, issuer, audience, expiry, state, ...) and never
contain claim values about a person: a BSN or a name must not reach a log line through an error.
"""

from __future__ import annotations


class OidcError(Exception):
    """An OpenID Connect or OAuth2 step failed; `reason` says which check and why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ProviderError(OidcError):
    """The provider could not be reached, or its discovery document or keys are wrong."""


class TokenError(OidcError):
    """A token was refused: bad signature, wrong issuer or audience, expired, wrong nonce."""


class LoginError(OidcError):
    """A login could not be completed: state mismatch, refused code, missing claims."""
