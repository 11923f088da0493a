"""The one error type a request can end with: a message a person can act on, and the HTTP status that fits.

Raised by the domain and the generation layer, answered once by the web side (JSON for the API,
a page or fragment for the browser) and turned into a message and exit code by the CLI. The
subclasses only name where an error comes from; they behave the same.
"""

from __future__ import annotations


class AppError(Exception):
    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class GenerationError(AppError):
    """A generation (or retry) that cannot be queued."""


class PresetError(AppError):
    """Preset fields that cannot be stored."""


class CancelError(AppError):
    """A job that cannot be canceled (it has ended, or does not exist)."""

    status = 409


class CurationError(AppError):
    """A curation request (state, order, gallery page) that cannot be done as asked."""
