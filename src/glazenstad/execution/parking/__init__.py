"""The scan-car pipeline: scans over MQTT, parking-right checks, cases, retention, open counts.

See docs/parking.md.
"""
