"""A gallery card: what the card macro shows of an example (templates/admin/_macros.html `example_card`) and
nothing more. Built from a row (the gallery page, a verdict answered in place) or from a progress record's
example (a running job's new examples, no row read). Every field is present, so the template reads attributes
rather than calling `.get()` fifty times a page."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for

from app.models import GalleryExample
from app.web.admin.common import reference_thumb
from app.web.context import services


@dataclass(frozen=True, slots=True)
class Card:
    id: str
    model_id: str
    gender: str
    which: str  # how each of its buttons names it: "female_05, example 1"
    provider: str
    state: str
    view_url: str  # its example view, where the rarer actions are
    reference_url: str | None  # None: the reference photo is not cached (the card says so)
    image_url: str  # the original: shown only by examples stored before sizes were made
    thumb_url: str | None
    thumb_width: int | None
    thumb_height: int | None
    medium_url: str | None  # the 2x source of the thumbnail
    offline: bool
    first: bool = False  # the first / last of its group here: its move arrow that way is off
    last: bool = False


def view_url_template(preset_id: str) -> str:
    """The example view's address with "EXAMPLE" for the id: url_for once a page, not once a card."""
    return url_for("admin_example.example_view", preset_id=preset_id, example_id="EXAMPLE")


def which(model_id: str, index: int | None) -> str:
    return f"{model_id}, example {(index or 0) + 1}"


def card_of_row(example: GalleryExample, view_url: str, first: bool = False, last: bool = False) -> Card:
    """`view_url`: view_url_template's answer for the example's preset."""
    storage = services().storage
    return Card(
        id=example.id,
        model_id=example.model_id,
        gender=example.gender,
        which=which(example.model_id, example.example_index),
        provider=example.provider,
        state=example.state,
        view_url=view_url.replace("EXAMPLE", example.id),
        reference_url=reference_thumb(example.model_id),
        image_url=storage.url(example.image_path),
        thumb_url=storage.url(example.thumb_path) if example.thumb_path else None,
        thumb_width=example.thumb_width,
        thumb_height=example.thumb_height,
        medium_url=storage.url(example.medium_path) if example.medium_path else None,
        offline=bool(example.offline),
        first=first,
        last=last,
    )


def card_of_record(example: dict, view_url: str, provider: str) -> Card:
    """A running job's new example from its progress record (app/gallery/example_json.py's shape): it is
    unreviewed. Records written before examples carried their provider and index fall back to the job's
    provider and the first index."""
    model_id = str(example.get("modelId", ""))
    return Card(
        id=str(example["id"]),
        model_id=model_id,
        gender=str(example.get("gender", "")),
        which=which(model_id, example.get("index")),
        provider=example.get("provider") or provider,
        state="unreviewed",
        view_url=view_url.replace("EXAMPLE", str(example["id"])),
        reference_url=reference_thumb(model_id),
        image_url=str(example.get("imageUrl", "")),
        thumb_url=example.get("thumbUrl"),
        thumb_width=example.get("thumbWidth"),
        thumb_height=example.get("thumbHeight"),
        medium_url=example.get("mediumUrl"),
        offline=bool(example.get("offline")),
    )
