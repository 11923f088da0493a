"""The one reader of ISO 8601 times: every form the app and Replicate write, as UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.core.iso_time import parse_naive_utc, parse_utc

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["2026-03-01T12:00:00Z", "2026-03-01T12:00:00+00:00", "2026-03-01T12:00:00", "2026-03-01T14:00:00+02:00"],
)
def test_each_form_reads_as_the_same_utc_time(text: str) -> None:
    assert parse_utc(text) == NOON
    assert parse_naive_utc(text) == NOON.replace(tzinfo=None)


@pytest.mark.parametrize("value", [None, "", "yesterday", "2026-13-01T00:00:00Z", 12])
def test_what_is_not_a_time_is_none(value: object) -> None:
    assert parse_utc(value) is None
    assert parse_naive_utc(value) is None
