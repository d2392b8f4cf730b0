"""Staff single sign-on in Debian's Chromium, with the portal's Content-Security-Policy on.

The provider runs as `localhost` and the portal as `127.0.0.1`: two sites, so the browser
treats the return from the provider as cross-site, as it does between a municipality's identity
provider and Glazen Stad. This is where SameSite=Strict session cookies and the policy that
forms post only to this site could break a login or a logout; the pages are checked with axe.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.browser import AXE, CHROMIUM, CHROMIUM_ARGS, Visitor, check_loaded, require_assets
from tests.conftest import TEST_REGISTER, free_port, missing_tool, serving
from tests.trust.oidc.conftest import (
    ID_TOKEN_TTL,
    STAFF_CLIENT,
    require_provider,
    signing_key,
    start_provider,
    stop_provider,
)

pytestmark = [pytest.mark.browser, pytest.mark.node]
LOCAL_HOSTS = ("127.0.0.1", "localhost")


@contextmanager
def browsing() -> Iterator[Visitor]:
    """Chromium with one tab that may visit the portal and the provider, nothing else."""
    if not CHROMIUM.exists():
        missing_tool(f"{CHROMIUM} not found (apt-get install chromium)")
    if not AXE.exists():
        missing_tool(f"{AXE} not found (run `npm ci`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="nl-NL")
            visitor = Visitor(page=None)

            def handle(route: Any, request: Any) -> None:
                if urlsplit(request.url).hostname in LOCAL_HOSTS:
                    route.continue_()
                else:
                    route.abort()

            context.route("**/*", handle)
            context.add_init_script(path=str(AXE))
            context.add_init_script(
                "window.__csp = []; document.addEventListener('securitypolicyviolation',"
                " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
            )
            visitor.page = context.new_page()
            yield visitor
        finally:
            browser.close()


def test_staff_sign_in_and_out_in_a_real_browser(sqlite_url: str, tmp_path: Path) -> None:
    require_provider()
    require_assets()
    app_port, idp_port = free_port(), free_port()
    app_url, issuer = f"http://127.0.0.1:{app_port}", f"http://localhost:{idp_port}"
    process = start_provider(
        tmp_path,
        "browser",
        idp_port,
        {"keys": [signing_key("browser-key")]},
        ID_TOKEN_TTL,
        host="localhost",
        app_urls=(app_url,),
    )
    settings = Settings(
        database_url=sqlite_url,
        data_dir=tmp_path,
        public_url=app_url,
        staff_oidc_issuer=issuer,
        staff_oidc_client_id=STAFF_CLIENT["client_id"],
        staff_oidc_client_secret=STAFF_CLIENT["client_secret"],
        staff_oidc_scopes="openid profile roles",
        staff_oidc_role_map={"GS-Privacy": "informatiemanager"},
        staff_oidc_organisation="teststad",
    )
    app = create_app(settings)
    engine = make_engine(sqlite_url)
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    engine.dispose()
    report: list[str] = []
    try:
        with serving(app, app_port), browsing() as visitor:
            page = visitor.page
            page.goto(f"{app_url}/medewerkers", wait_until="load")
            assert urlsplit(page.url).path == "/medewerkers/inloggen"
            report += [f"inloggen: {p}" for p in check_loaded(visitor)]

            with page.expect_navigation(wait_until="load"):
                page.get_by_role("link", name="Inloggen met uw account van de gemeente").click()
            assert page.url.startswith(f"{issuer}/interaction/")
            # The provider's login screen, driven as the test provider offers it.
            page.goto(f"{page.url}/login?account=a.jansen")
            page.wait_for_url(f"{app_url}/medewerkers", wait_until="load")
            assert page.get_by_role("heading", name="Welkom, A. Jansen").count() == 1
            report += [f"medewerkers: {p}" for p in check_loaded(visitor)]

            page.get_by_role("button", name="Uitloggen").click()
            page.wait_for_url(lambda url: url.startswith(f"{issuer}/session/end?"))
            with page.expect_navigation(wait_until="load"):
                page.get_by_role("button", name="Yes, sign me out").click()
            assert page.url == f"{app_url}/"
            page.goto(f"{app_url}/medewerkers", wait_until="load")
            assert urlsplit(page.url).path == "/medewerkers/inloggen"
    finally:
        stop_provider(process)
    assert not report, "\n".join(report)
