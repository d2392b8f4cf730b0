"""Tests of the public portal: formatting, sanitizing, routes, and the pages in Chromium."""
