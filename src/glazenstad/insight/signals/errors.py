"""What can go wrong with a signal, in words the person who asked can act on (Dutch).

Each error says what is wrong; `SignalInputError` also names the field (`decision`, `rule`,
`text`, `state`, `response`), which the API turns into `invalidParams` and the portal into a
message next to that field.
"""

from __future__ import annotations


class SignalError(Exception):
    """Base of every signal error; `str(error)` is the message for the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SignalInputError(SignalError):
    """The input is wrong: `field` names which (API: 400 with invalidParams)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class SignalNotFound(SignalError):
    """No such signal, or not one this person may see (API: 404, so nothing leaks)."""


class SignalForbidden(SignalError):
    """The person sees the signal but may not do this with it (API: 403)."""


class SignalConflict(SignalError):
    """Not possible in the signal's present state, or already done (API: 409)."""
