"""The public portal: server-rendered Dutch pages over the same register the API serves."""

from __future__ import annotations

from glazenstad.web.portal.routes import error_page, mount

__all__ = ["error_page", "mount"]
