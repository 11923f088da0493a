"""The activity log as a curator reads it: "admin@… approved 3 examples of Film Noir Portrait", each noun a
link to what it names (the examples, the job, the preset), never an action code or a full id.

Events recorded before events named their preset and ids (migration 0016) are read from their target and
detail text, so older rows read as sentences too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flask import url_for
from sqlalchemy import select

from app.accounts.audit import KINDS, ActivityFilter, AuditEvent
from app.core.database import db
from app.core.errors import AppError
from app.models import Preset

EXAMPLE_VERBS = {"approve": "approved", "feature": "featured", "reject": "rejected", "reset": "reset the verdict on"}
STATE_OF_VERB = {"approve": "approved", "feature": "featured", "reject": "rejected", "reset": "unreviewed"}
PLAIN_VERBS = {
    "preset.create": "created preset",
    "preset.update": "edited preset",
    "preset.delete": "deleted preset",
    "usage.clear": "cleared the model usage of",
    "token.create": "created the API token",
    "token.revoke": "revoked the API token",
    "user.change-password": "changed the password of",
    "user.set-password": "set the password of",
    "user.disable": "disabled the admin",
}
HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")
MODEL_IN_DETAIL = re.compile(r"\bmodel (\S+?)(?:,|$)")
VARIANT_IN_DETAIL = re.compile(r"^variant ([A-D])\b")


@dataclass(frozen=True)
class Part:
    """A piece of a sentence: plain text, or a link when `href` is set."""

    text: str
    href: str | None = None


@dataclass(frozen=True)
class Line:
    event: AuditEvent
    parts: list[Part]
    note: str | None = None  # a small remark after the sentence (an expiry, sessions ended)


def parse_filter(args: Mapping[str, str]) -> ActivityFilter:
    """The filter of the page's query string; a 400 naming a kind or page that cannot be."""
    kind = (args.get("kind") or "").strip() or None
    if kind and kind not in KINDS:
        raise AppError(f"kind must be one of {', '.join(KINDS)}, got {kind[:40]!r}.", 400)
    raw_page = (args.get("page") or "1").strip()
    if not raw_page.isdecimal() or not 1 <= int(raw_page) <= 1_000_000:
        raise AppError(f"page must be a whole number from 1 to 1,000,000, got {raw_page[:40]!r}.", 400)
    preset_id = (args.get("preset") or "").strip()[:32] or None
    actor = (args.get("person") or "").strip()[:200] or None
    return ActivityFilter(preset_id=preset_id, actor=actor, kind=kind, page=int(raw_page))


def lines(events: Iterable[AuditEvent]) -> list[Line]:
    """Each event as a sentence; the presets they name are read in one query."""
    events = list(events)
    ids = {e.preset_id for e in events if e.preset_id}
    rows = db.session.execute(select(Preset.id, Preset.name).where(Preset.id.in_(ids))).all() if ids else []
    names = {preset_id: name for preset_id, name in rows}
    return [line(e, names) for e in events]


def line(event: AuditEvent, names: Mapping[str, str]) -> Line:
    kind, _, verb = event.action.partition(".")
    preset = preset_part(event, names)
    if kind == "example":
        return Line(event, example_parts(event, verb, preset))
    if event.action == "job.cancel":
        job_id = (event.subjects or HEX_ID.findall(event.target or "") or [""])[0]
        job = Part(f"job {job_id[:8]}", url_for("admin_jobs.job", job_id=job_id) if job_id else None)
        return Line(event, [Part("canceled "), job, *of(preset)])
    if event.action == "usage.release":
        model = (event.subjects or MODEL_IN_DETAIL.findall(event.detail or "") or ["a model"])[0]
        return Line(event, [Part(f"released model {model} for "), preset or Part("a preset")])
    if kind == "comparison":
        return Line(event, comparison_parts(event, verb, preset))
    if event.action.startswith("preset."):
        return Line(event, [Part(PLAIN_VERBS[event.action] + " "), preset or Part("(deleted)")])
    if event.action == "usage.clear":
        return Line(event, [Part(PLAIN_VERBS[event.action] + " "), preset or Part("a preset")], event.detail)
    what = PLAIN_VERBS.get(event.action, verb.replace("-", " ") or "changed")
    target = (event.target or "").removeprefix("token ")
    return Line(event, [Part(f"{what} {target}".strip())], event.detail)


def preset_part(event: AuditEvent, names: Mapping[str, str]) -> Part | None:
    """The preset the event concerns, a link while it exists; its recorded name once it is gone."""
    if event.preset_id and event.preset_id in names:
        return Part(names[event.preset_id], url_for("admin_presets.preset", preset_id=event.preset_id))
    recorded = (event.target or "").removeprefix("preset ")
    if event.target and event.target.startswith("preset ") and not HEX_ID.fullmatch(recorded):
        return Part(recorded)
    return None


def of(preset: Part | None) -> list[Part]:
    return [Part(" of "), preset] if preset else []


def example_parts(event: AuditEvent, verb: str, preset: Part | None) -> list[Part]:
    """approved 3 examples of P (→ P's gallery showing that state) / approved an example of P (→ the example)."""
    ids = event.subjects or HEX_ID.findall((event.detail or "").split(";")[0])
    counted = re.match(r"(\d+) examples", event.detail or "")
    count = int(counted.group(1)) if counted else len(ids)
    preset_id = event.preset_id if preset and preset.href else None
    if verb == "delete":
        model = (MODEL_IN_DETAIL.findall(event.detail or "") or ["?"])[0]
        freed = ", and released the model" if "released" in (event.detail or "") else ""
        return [Part(f"deleted an example (model {model})"), *of(preset), Part(freed)]
    if verb == "move":
        place = re.search(r"to place (\d+)", event.detail or "")
        target = Part("an example", example_url(preset_id, ids[0]) if ids else None)
        return [Part("moved "), target, *of(preset), Part(f" to place {place.group(1)}" if place else "")]
    done = EXAMPLE_VERBS.get(verb, verb)
    released = re.search(r"; released (.+)$", event.detail or "")
    after = [Part(f", and released {released.group(1)}")] if released else []
    if count == 1 and ids:
        return [Part(f"{done} "), Part("an example", example_url(preset_id, ids[0])), *of(preset), *after]
    state = STATE_OF_VERB.get(verb)
    href = url_for("admin_presets.preset", preset_id=preset_id, state=state) + "#gallery-section" if preset_id else None
    return [Part(f"{done} "), Part(f"{count} examples", href), *of(preset), *after]


def example_url(preset_id: str | None, example_id: str) -> str | None:
    return url_for("admin_example.example_view", preset_id=preset_id, example_id=example_id) if preset_id else None


def comparison_parts(event: AuditEvent, verb: str, preset: Part | None) -> list[Part]:
    """started / canceled a comparison of P, adopted variant B of a comparison for P (→ the comparison)."""
    comparison_id = (event.subjects or HEX_ID.findall(event.target or "") or [""])[0]
    href = url_for("admin_comparisons.comparison", comparison_id=comparison_id) if comparison_id else None
    comparison = Part("a comparison", href)
    if verb == "adopt":
        variant = VARIANT_IN_DETAIL.findall(event.detail or "")
        what = f"adopted variant {variant[0]} of " if variant else "adopted a variant of "
        return [Part(what), comparison, *([Part(" for "), preset] if preset else [])]
    done = {"create": "started ", "cancel": "canceled "}.get(verb, f"{verb} ")
    return [Part(done), comparison, *of(preset)]
