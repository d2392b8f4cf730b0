"""The outer ring: HTTP API and public portal."""
