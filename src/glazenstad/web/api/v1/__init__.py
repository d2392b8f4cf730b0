"""Version 1 of the API, one router per domain."""
