"""Tests of glazenstad.execution."""
