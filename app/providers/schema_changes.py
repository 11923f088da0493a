"""What changed between two input schemas of a model, in words: the inputs added, removed and changed (and how),
so an admin can judge a refresh before saving it (a JSON diff of two schemas says the same thing unreadably)."""

from __future__ import annotations

import json
from typing import Any

# the keys of an input spec worth naming one by one; any other difference is said as "its <key> changed"
NAMED = ("type", "format", "default", "minimum", "maximum", "maxLength", "minLength")


def shown(value: Any) -> str:
    """A schema value as it reads in a sentence: text quoted, the rest as JSON."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def kind_of(spec: dict) -> str:
    """ "integer, default 3", "one of 1:1, 3:4 (default 1:1)", "list of uri": a new input in a few words."""
    if "enum" in spec:
        what = "one of " + ", ".join(str(v) for v in spec["enum"])
    elif spec.get("type") == "array":
        items = spec.get("items") or {}
        what = f"list of {items.get('format') or items.get('type') or 'values'}"
    else:
        what = spec.get("format") or spec.get("type") or "any value"
    return what + (f", default {shown(spec['default'])}" if "default" in spec else "")


def input_changes(old: dict, new: dict) -> list[str]:
    """How one input changed: its enum's values added and removed, each named key's old and new value, and any
    other key that differs (description, title, order...)."""
    found = []
    if "enum" in old or "enum" in new:
        before, after = [str(v) for v in old.get("enum", ())], [str(v) for v in new.get("enum", ())]
        added, removed = [v for v in after if v not in before], [v for v in before if v not in after]
        if added:
            found.append(f"now also takes {', '.join(added)}")
        if removed:
            found.append(f"no longer takes {', '.join(removed)}")
        if not before or not after:
            found.append("now takes any value" if not after else "now takes only the listed values")
    for key in NAMED:
        if old.get(key) != new.get(key):
            was = shown(old[key]) if key in old else "none"
            found.append(f"{key} {was} → {shown(new[key]) if key in new else 'none'}")
    others = sorted(k for k in set(old) | set(new) if k not in (*NAMED, "enum") and old.get(k) != new.get(k))
    found += [f"its {key} changed" for key in others]
    return found


def describe_changes(old: dict, new: dict) -> list[str]:
    """One line per input added, removed or changed between the Input schemas `old` and `new` (and one for the
    required inputs); empty when they are the same."""
    before, after = old.get("properties", {}), new.get("properties", {})
    lines = [f"added input {name}: {kind_of(after[name])}" for name in after if name not in before]
    lines += [f"removed input {name}" for name in before if name not in after]
    for name in after:
        if name in before and before[name] != after[name]:
            lines.append(f"changed input {name}: {'; '.join(input_changes(before[name], after[name]))}")
    required_before, required_after = set(old.get("required", ())), set(new.get("required", ()))
    if required_before != required_after:
        now = ", ".join(sorted(required_after)) or "none"
        lines.append(f"required inputs: {', '.join(sorted(required_before)) or 'none'} → {now}")
    rest = sorted(k for k in set(old) | set(new) if k not in ("properties", "required") and old.get(k) != new.get(k))
    lines += [f"the schema's {key} changed" for key in rest]
    return lines
