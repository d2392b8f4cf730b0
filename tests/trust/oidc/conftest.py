"""A real OpenID provider for the tests: `oidc-provider` (npm) run by provider.mjs on loopback.

Two issuers are started with the same signing keys, so a token that is correctly signed but
issued by the other one shows that the issuer itself is checked, not only the signature.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.conftest import ROOT, free_port, missing_tool

SCRIPT = Path(__file__).resolve().parent / "provider.mjs"
APP_URL = "http://testserver"
APP_URLS = (APP_URL, "https://testserver")
"""Where the application runs for the provider: the test client's address (production: https)."""
API_RESOURCE = "urn:glazenstad:api"
OTHER_RESOURCE = "urn:elders:api"
SYSTEM_SCOPES = "decisions:request logbook:write logbook:read"


def staff_client(app_urls: tuple[str, ...] = APP_URLS) -> dict[str, Any]:
    return {
        "client_id": "glazenstad-medewerkers",
        "client_secret": "staff-secret-for-tests",
        "redirect_uris": [f"{url}/medewerkers/inloggen/terug" for url in app_urls],
        "post_logout_redirect_uris": [f"{url}/" for url in app_urls],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "scope": "openid profile roles",
    }


def resident_client(app_urls: tuple[str, ...] = APP_URLS) -> dict[str, Any]:
    return {
        "client_id": "glazenstad-inwoners",
        "client_secret": "resident-secret-for-tests",
        "redirect_uris": [f"{url}/inloggen/terug" for url in app_urls],
        "post_logout_redirect_uris": [f"{url}/mijn-verwerkingen" for url in app_urls],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "scope": "openid bsn",
    }


STAFF_CLIENT = staff_client()
RESIDENT_CLIENT = resident_client()
SYSTEM_CLIENT = {
    "client_id": "scanauto-7",
    "client_secret": "system-secret-for-tests",
    "redirect_uris": [],
    "grant_types": ["client_credentials"],
    "response_types": [],
}
ACCOUNTS: dict[str, dict[str, Any]] = {
    "a.jansen": {
        "name": "A. Jansen",
        "preferred_username": "a.jansen",
        "roles": ["GS-Privacy"],
        "department": "Concernstaf",
    },
    "z.zonderrol": {
        "name": "Z. Zonder Rol",
        "preferred_username": "z.zonderrol",
        "roles": ["Iets-Anders"],
        "department": "Facilitair",
    },
    "inwoner-1": {"bsn": "999993653"},
    "inwoner-zonder-bsn": {"bsn": "123456789"},
}


@dataclass(frozen=True)
class OpenIdProvider:
    """A running provider: its issuer URL and the clients it knows."""

    issuer: str
    staff: dict[str, Any]
    resident: dict[str, Any]
    system: dict[str, Any]
    id_token_ttl: int

    def client_credentials(
        self, *, scope: str = SYSTEM_SCOPES, resource: str = API_RESOURCE
    ) -> str:
        """An access token for the system client, obtained with the client-credentials grant."""
        response = httpx.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "scope": scope, "resource": resource},
            auth=(self.system["client_id"], self.system["client_secret"]),
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def log_in(self, browser: httpx.Client, authorize_url: str, account: str) -> str:
        """Walk the provider's side of a login as `account`; returns the redirect back to us."""
        response = browser.get(authorize_url)
        assert response.status_code in (302, 303), response.text
        interaction = self.absolute(response.headers["location"])
        if not interaction.startswith(self.issuer):  # the provider already knows this browser
            return interaction
        details = browser.get(interaction)
        assert details.status_code == 200, details.text
        assert details.json()["prompt"] == "login"
        response = browser.get(f"{interaction}/login", params={"account": account})
        assert response.status_code in (302, 303), response.text
        while (location := self.absolute(response.headers["location"])).startswith(self.issuer):
            response = browser.get(location)
            assert response.status_code in (302, 303), response.text
        return location

    def absolute(self, location: str) -> str:
        """A Location header as a full URL (the provider sends paths on its own site)."""
        return urljoin(self.issuer + "/", location)


def signing_key(kid: str) -> dict[str, Any]:
    """A new RSA private key as JWK, for the provider to sign with."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private))
    jwk.pop("key_ops", None)  # the provider signs and verifies (logout hints) with it
    jwk.update(kid=kid, use="sig", alg="RS256")
    return jwk


def start_provider(
    tmp: Path,
    name: str,
    port: int,
    jwks: dict[str, Any],
    ttl: int,
    *,
    host: str = "127.0.0.1",
    app_urls: tuple[str, ...] = APP_URLS,
) -> Any:
    """Start provider.mjs on `port` (it signs with the first key); returns the process.

    `host` names the provider in its issuer (it listens on 127.0.0.1 either way); `app_urls`
    are where the application runs, for the clients' redirect addresses.
    """
    issuer = f"http://{host}:{port}"
    config = {
        "issuer": issuer,
        "port": port,
        "jwks": jwks,
        "clients": [staff_client(app_urls), resident_client(app_urls), SYSTEM_CLIENT],
        "accounts": ACCOUNTS,
        "idTokenTTL": ttl,
        "accessTokenTTL": ttl,
        "resources": {
            API_RESOURCE: {"scope": SYSTEM_SCOPES},
            OTHER_RESOURCE: {"scope": SYSTEM_SCOPES},
        },
    }
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(config))
    process = subprocess.Popen(
        ["node", str(SCRIPT), str(path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / f"{name}.log").open("w"),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"provider.mjs stopped: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration").status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("provider.mjs did not start within 30 seconds")


ID_TOKEN_TTL = 600


def require_provider() -> None:
    """Node.js and the oidc-provider package, or a skip (a failure under CI=true)."""
    if shutil.which("node") is None:
        missing_tool("node is not installed (needed for the OpenID provider of the tests)")
    if not (ROOT / "node_modules" / "oidc-provider" / "package.json").is_file():
        missing_tool("the npm package oidc-provider is not installed (run `npm ci`)")


@pytest.fixture(scope="session")
def oidc_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OpenIdProvider, str]]:
    """The provider, and the issuer URL of a second one that signs with the same keys."""
    require_provider()
    tmp = tmp_path_factory.mktemp("oidc")
    jwks = {"keys": [signing_key("test-key-1")]}
    main_port, other_port = free_port(), free_port()
    processes = [
        start_provider(tmp, "main", main_port, jwks, ID_TOKEN_TTL),
        start_provider(tmp, "other", other_port, jwks, ID_TOKEN_TTL),
    ]
    try:
        yield (
            OpenIdProvider(
                issuer=f"http://127.0.0.1:{main_port}",
                staff=STAFF_CLIENT,
                resident=RESIDENT_CLIENT,
                system=SYSTEM_CLIENT,
                id_token_ttl=ID_TOKEN_TTL,
            ),
            f"http://127.0.0.1:{other_port}",
        )
    finally:
        for process in processes:
            stop_provider(process)


def stop_provider(process: Any) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def idp(oidc_pair: tuple[OpenIdProvider, str]) -> OpenIdProvider:
    return oidc_pair[0]


@pytest.fixture
def other_issuer(oidc_pair: tuple[OpenIdProvider, str]) -> str:
    return oidc_pair[1]
