"""OpenID Connect and OAuth2 for Glazen Stad: the relying party and the resource server.

Staff sign in with the municipality's identity provider, residents through a broker that
asserts their BSN, and systems call the API with client-credentials access tokens. All three
share one core: the provider's discovery document and signing keys (`provider`), JWT checks
with clear reasons (`tokens`), and the authorization-code flow with PKCE (`client`). The
cryptography is PyJWT's; this package decides what to trust.
"""

from __future__ import annotations

from glazenstad.web.oidc.client import AuthorizationRequest, RelyingParty, SignIn
from glazenstad.web.oidc.errors import LoginError, OidcError, ProviderError, TokenError
from glazenstad.web.oidc.provider import Provider, ProviderMetadata
from glazenstad.web.oidc.tokens import (
    AccessTokenValidator,
    client_id_of,
    granted_scopes,
    verify_jwt,
)

__all__ = [
    "AccessTokenValidator",
    "AuthorizationRequest",
    "LoginError",
    "OidcError",
    "Provider",
    "ProviderError",
    "ProviderMetadata",
    "RelyingParty",
    "SignIn",
    "TokenError",
    "client_id_of",
    "granted_scopes",
    "verify_jwt",
]
