"""What every browser test of the portal shares: Debian's Chromium, axe-core and the page checks.

Each test module opens its own browser with `visiting()` in a fixture of at most module scope.
Playwright's sync API runs an event loop of its own while it is open, so a browser held open
for the whole session would make the next module's `sync_playwright()` fail ("using Playwright
Sync API inside the asyncio loop") on the same worker; closing it with its module avoids that.

axe-core comes in as a browser init script, which a page's Content-Security-Policy does not
govern, instead of an inline <script> tag: the test sees exactly the page visitors get, with its
CSP on, and a CSP violation by the page itself is recorded and reported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from glazenstad.web.portal.assets import MissingAssetError, build_assets, vendor_dir
from tests.conftest import ROOT, missing_tool

CHROMIUM = Path("/usr/bin/chromium")
NODE_MODULES = ROOT / "node_modules"
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PORTAL_HOST = "127.0.0.1"

# Collects the directive and the blocked address of every CSP violation on the page.
_CSP_RECORDER = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


missing = missing_tool


def require_assets() -> None:
    """The vendored NL Design System CSS, built from node_modules (missing: see `missing`)."""
    try:
        build_assets(NODE_MODULES, vendor_dir())
    except MissingAssetError as exc:
        missing(str(exc))


@dataclass
class Visitor:
    """One browser tab that records every request, failed stylesheet and CSP violation."""

    page: Any
    requests: list[str] = field(default_factory=list)
    failed_css: list[str] = field(default_factory=list)


@contextmanager
def visiting() -> Iterator[Visitor]:
    """Chromium with one tab, closed on leaving; use it in a fixture of module scope at most.

    Requests to another host than the portal's are aborted (and still recorded, so a test can
    report them): nothing leaves the machine.
    """
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} not found (apt-get install chromium)")
    if not AXE.exists():
        missing(f"{AXE} not found (run `npm ci`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
            visitor = Visitor(page=None)

            def handle(route: Any, request: Any) -> None:
                if urlsplit(request.url).hostname == PORTAL_HOST:
                    route.continue_()
                else:
                    route.abort()

            def css_failed(response: Any) -> None:
                if response.url.endswith(".css") and response.status != 200:
                    visitor.failed_css.append(f"{response.status} {response.url}")

            context.route("**/*", handle)
            context.on("request", lambda request: visitor.requests.append(request.url))
            context.on("response", css_failed)
            context.add_init_script(path=str(AXE))
            context.add_init_script(_CSP_RECORDER)
            visitor.page = context.new_page()
            try:
                yield visitor
            finally:
                context.close()
        finally:
            browser.close()


def foreign_requests(visitor: Visitor) -> list[str]:
    """The requests the tab made to another host than the portal's (data: and blob: aside)."""
    return [
        url
        for url in visitor.requests
        if urlsplit(url).scheme not in ("data", "about", "blob")
        and urlsplit(url).hostname != PORTAL_HOST
    ]


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page: id, impact, help, and the nodes."""
    result: dict[str, Any] = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {
                runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
            return {violations: r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => n.target.join(' ') + ' — ' + n.failureSummary)
            }))};
        }""",
        AXE_TAGS,
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def axe_problems(page: Any) -> list[str]:
    """axe's violations and the page's CSP violations, as readable lines (empty: all good).

    Only looks at the page as it is: no reload and no key pressed, so it can follow a change
    made in the page (tables opened, say).
    """
    problems = [
        f"axe {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>\n      "
        + "\n      ".join(v["nodes"][:5])
        for v in axe_violations(page)
    ]
    blocked: list[str] = page.evaluate("window.__csp")
    return problems + [f"Content-Security-Policy violation: {b}" for b in blocked]


def check_loaded(visitor: Visitor) -> list[str]:
    """Everything that is wrong with the portal page the tab shows now (empty: all good).

    The language, the NL Design System CSS, the skip link as the first Tab stop, axe and CSP.
    """
    page = visitor.page
    problems: list[str] = []
    if page.evaluate("document.documentElement.lang") != "nl":
        problems.append("<html> has no lang=nl")
    # The vendored NL Design System CSS applies: a rule of the Utrecht library (the skip link is
    # positioned off-screen) and a token of the Voorbeeld theme (the page font).
    styles = page.evaluate(
        """() => ({
            skipPosition: getComputedStyle(document.querySelector('.utrecht-skip-link')).position,
            themeToken: getComputedStyle(document.documentElement)
                .getPropertyValue('--basis-page-max-inline-size').trim(),
            font: getComputedStyle(document.documentElement).fontFamily,
            sheets: document.styleSheets.length,
        })"""
    )
    if styles["skipPosition"] != "fixed":
        problems.append(f"Utrecht CSS not applied (skip link position {styles['skipPosition']})")
    if styles["themeToken"] != "1140px" or "Noto Sans" not in styles["font"]:
        problems.append(f"Voorbeeld theme not applied ({styles})")

    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => ({cls: document.activeElement.className,"
        " href: document.activeElement.getAttribute('href'),"
        " visible: document.activeElement.getBoundingClientRect().top >= 0})"
    )
    if "utrecht-skip-link" not in focused["cls"] or focused["href"] != "#main":
        problems.append(f"first Tab does not focus the skip link: {focused}")
    elif not focused["visible"]:
        problems.append("skip link is focused but not visible on screen")
    return problems + axe_problems(page)


def log_in_staff(page: Any, base: str, user: str, back: str = "") -> None:
    """Log in with the staff login form, choosing `user`, as a person would.

    `back` is where the form sends one afterwards (the start page for staff when empty).
    """
    query = f"?terug={back}" if back else ""
    page.goto(f"{base}/medewerkers/inloggen{query}", wait_until="load")
    page.get_by_label("Medewerker").select_option(user)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Inloggen").click()


def submit(page: Any, name: str) -> Any:
    """Click the button called `name` and wait for the page it leads to; its response."""
    with page.expect_navigation(wait_until="load") as navigation:
        page.get_by_role("button", name=name).click()
    return navigation.value


def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: PORTAL_SCREENSHOTS=<dir> when set (to look at), else `tmp_path`."""
    return Path(os.environ.get("PORTAL_SCREENSHOTS") or str(tmp_path))
