"""The council report as PDF: the same HTML, printed by headless Chromium.

Why Chromium on the command line and not a PDF library or Playwright: the PDF must show exactly
what the HTML shows (the same SVG charts, the same tables), and a browser engine is the only
thing that lays out that HTML faithfully. Debian's `chromium` prints a file to PDF by itself
(`--print-to-pdf`); since version 131 it also honours CSS page-margin boxes, so the stylesheet
sets the A4 page, the margins and the page numbers ("pagina 3 van 12"), and the browser's own
header and footer are switched off. Playwright would drive the same browser through a Node
driver that is a test tool here, not something a municipality's server should need.

The HTML is self-contained (its CSS inline, its charts inline SVG, no scripts, no links to load),
so Chromium runs with JavaScript and networking off, in a throw-away profile, and is given a
time limit. As root (containers, CI) Chromium refuses its sandbox, so it then runs without it:
it only ever opens the report this process just wrote.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

CANDIDATES: Final = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_SECONDS: Final = 120.0
INSTALL_HINT: Final = (
    "install Debian's chromium (`apt-get install chromium`) or pass the browser's path"
)
INSTALL_HINT_NL: Final = (
    "Chromium is niet geïnstalleerd op de server. Installeer Debians pakket chromium "
    "(apt-get install chromium); het verslag als HTML werkt wel."
)
_FLAGS: Final = (
    "--headless",
    "--disable-gpu",
    "--disable-javascript",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    # No date, title and file URL on every page: the stylesheet prints its own page numbers.
    "--no-pdf-header-footer",
    # PDF bookmarks from the headings, and a tagged (accessible) PDF.
    "--generate-pdf-document-outline",
    "--export-tagged-pdf",
)


class PdfError(RuntimeError):
    """The PDF could not be made; the message says why and what to do (English)."""

    dutch: str = "De PDF kon niet worden gemaakt. Het verslag als HTML werkt wel."


class ChromiumMissing(PdfError):
    dutch = INSTALL_HINT_NL


def find_chromium(configured: str | Path | None = None) -> Path:
    """The browser to print with: `configured`, else the first of CANDIDATES on the PATH."""
    if configured:
        path = Path(configured)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        found = shutil.which(str(configured))
        if found:
            return Path(found)
        raise ChromiumMissing(f"{configured} is not an executable browser; {INSTALL_HINT}")
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ChromiumMissing(f"Chromium was not found on the PATH; {INSTALL_HINT}")


def chromium_command(browser: Path, source: Path, target: Path, profile: Path) -> list[str]:
    command = [str(browser), *_FLAGS, f"--user-data-dir={profile}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--no-sandbox")  # Chromium refuses to start its sandbox as root
    command += [f"--print-to-pdf={target}", source.resolve().as_uri()]
    return command


def html_to_pdf(
    html: str,
    *,
    chromium: str | Path | None = None,
    timeout: float = TIMEOUT_SECONDS,
    extra_flags: Sequence[str] = (),
) -> bytes:
    """Print a self-contained HTML document to PDF; PdfError (or ChromiumMissing) if it fails."""
    browser = find_chromium(chromium)
    with tempfile.TemporaryDirectory(prefix="glazenstad-pdf-") as work:
        folder = Path(work)
        source, target, profile = folder / "verslag.html", folder / "verslag.pdf", folder / "p"
        source.write_text(html, encoding="utf-8")
        command = chromium_command(browser, source, target, profile)
        command[1:1] = list(extra_flags)
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise PdfError(f"{browser} did not finish the PDF within {timeout:.0f} s") from None
        except OSError as exc:
            raise ChromiumMissing(
                f"{browser} could not be started ({exc}); {INSTALL_HINT}"
            ) from exc
        pdf = target.read_bytes() if target.is_file() else b""
        if result.returncode != 0 or not pdf.startswith(b"%PDF"):
            detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise PdfError(
                f"{browser} did not write a PDF (exit status {result.returncode}): "
                + " | ".join(detail)
            )
        return pdf
