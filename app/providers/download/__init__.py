"""An output copied safely (`downloader`): https only, public addresses only (`addresses`, `urls`), a size cap
(`bodies`), a verified image (`images`). The two outcomes of a failed download are defined here, so that every
check can raise them without importing the downloader."""

from __future__ import annotations


class DownloadError(Exception):
    """Base of the two outcomes below; the message is a human-readable reason."""


class DownloadRefused(DownloadError):
    """A permanent problem with this output (bad URL, forbidden address, not an image,
    too large...): retrying will not help."""


class DownloadFailed(DownloadError):
    """A transient problem (network error, timeout, 5xx, 404 before the file appears):
    the caller may retry."""
