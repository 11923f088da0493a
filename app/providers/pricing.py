"""A provider's price rule: how Replicate bills one prediction of its model, kept as JSON on its row.

    {"kind": "per_image", "usd": "0.03"}
    {"kind": "per_image_by_setting", "setting": "resolution", "usd": {"1K": "0.067", "2K": "0.101", "4K": "0.151"}}
    {"kind": "per_megapixel", "usd_per_megapixel": "0.015", "usd_per_run": "0.015",
     "setting": "megapixels", "input_megapixels": "1"}
    {"kind": "per_second", "usd": "0.000225"}
    {"kind": "per_megapixel_by_setting", "usd_per_megapixel": "0.015", "usd_per_run": "0.015",
     "setting": "resolution", "input_megapixels": "1", "megapixels": {"0.5 MP": "0.5", "1 MP": "1", …}}

Per image (by setting or not) and per megapixel cost nothing when the prediction failed; per second costs
`predict_time x rate` whatever the outcome. Per megapixel counts the reference photo (`input_megapixels`, the
pool's photos' size) and the output (the `setting`'s value, the preset's or the schema's default); per megapixel
by setting reads the output's megapixels from its `megapixels` table instead, for a setting whose values are
labels ("1 MP", "match_input_image": flux-2-pro's `resolution`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

KINDS = ("per_image", "per_image_by_setting", "per_megapixel", "per_second", "per_megapixel_by_setting")


class PriceRuleError(ValueError):
    """The rule cannot price a prediction; the message says what is wrong."""


def amount(value: Any, what: str) -> Decimal:
    try:
        found = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise PriceRuleError(f"{what} must be a number of US dollars (got {value!r})") from None
    if not found.is_finite() or found < 0:
        raise PriceRuleError(f"{what} must be a finite amount of at least 0 (got {value!r})")
    return found


def check_rule(rule: dict | None, properties: dict) -> None:
    """Raise PriceRuleError unless `rule` (None: no rule of its own) prices the model's inputs `properties`."""
    if rule is None:
        return
    kind = rule.get("kind") if isinstance(rule, dict) else None
    if kind not in KINDS:
        raise PriceRuleError(f"a price rule's kind must be one of {', '.join(KINDS)} (got {kind!r})")
    assert isinstance(rule, dict)
    if kind in ("per_image", "per_second"):
        amount(rule.get("usd"), f"a {kind} price")
    elif kind == "per_image_by_setting":
        setting, prices = rule.get("setting"), rule.get("usd")
        if setting not in properties or not isinstance(prices, dict) or not prices:
            raise PriceRuleError("a per_image_by_setting rule names an input (setting) and a price per value (usd)")
        for value, price in prices.items():
            amount(price, f"the price for {setting}={value}")
        missing = [str(v) for v in properties[setting].get("enum", ()) if str(v) not in prices]
        if missing:
            raise PriceRuleError(f"the rule has no price for {setting}={', '.join(missing)}")
    elif kind == "per_megapixel_by_setting":
        check_megapixel_table(rule, properties)
    else:
        amount(rule.get("usd_per_megapixel"), "usd_per_megapixel")
        amount(rule.get("usd_per_run", 0), "usd_per_run")
        amount(rule.get("input_megapixels", 0), "input_megapixels")
        if rule.get("setting") not in properties:
            raise PriceRuleError("a per_megapixel rule names the input that sets the output's megapixels (setting)")


def check_megapixel_table(rule: dict, properties: dict) -> None:
    """A per-megapixel-by-setting rule prices a run, each megapixel, and gives every value of its setting a size."""
    amount(rule.get("usd_per_megapixel"), "usd_per_megapixel")
    amount(rule.get("usd_per_run", 0), "usd_per_run")
    amount(rule.get("input_megapixels", 0), "input_megapixels")
    setting, sizes = rule.get("setting"), rule.get("megapixels")
    if setting not in properties or not isinstance(sizes, dict) or not sizes:
        raise PriceRuleError(
            "a per_megapixel_by_setting rule names an input (setting) and the megapixels of each value (megapixels)"
        )
    for value, size in sizes.items():
        amount(size, f"the megapixels of {setting}={value}")
    missing = [str(v) for v in properties[setting].get("enum", ()) if str(v) not in sizes]
    if missing:
        raise PriceRuleError(f"the rule gives no megapixels for {setting}={', '.join(missing)}")


def megapixel_table_price(rule: dict, value: Any) -> Decimal:
    """One succeeded prediction: a run, plus the input's and the output's megapixels (an unlisted value: the
    largest listed size, so an estimate never falls short)."""
    sizes = rule["megapixels"]
    out = sizes[str(value)] if str(value) in sizes else max(map(Decimal, sizes.values()))
    megapixels = amount(rule.get("input_megapixels", 0), "input") + amount(out, "output megapixels")
    return amount(rule.get("usd_per_run", 0), "run") + amount(rule["usd_per_megapixel"], "rate") * megapixels


def setting_value(rule: dict, settings: dict, properties: dict) -> Any:
    """The value of the rule's setting a prediction is sent: the preset's, else the schema's default."""
    name = rule["setting"]
    return settings.get(name, properties.get(name, {}).get("default"))


def image_price(rule: dict, settings: dict, properties: dict) -> Decimal:
    """What one succeeded prediction costs under a per-image or per-megapixel rule."""
    kind = rule["kind"]
    if kind == "per_image":
        return amount(rule["usd"], "price")
    value = setting_value(rule, settings, properties)
    if kind == "per_megapixel_by_setting":
        return megapixel_table_price(rule, value)
    if kind == "per_image_by_setting":
        prices = rule["usd"]
        return amount(prices.get(str(value), max(map(Decimal, prices.values()))), "price")
    megapixels = amount(rule.get("input_megapixels", 0), "input") + amount(value, "output megapixels")
    return amount(rule.get("usd_per_run", 0), "run") + amount(rule["usd_per_megapixel"], "rate") * megapixels


def describe(rule: dict) -> str:
    """The rule in words, for the pages and the CLI."""
    kind = rule["kind"]
    if kind == "per_image":
        return f"${rule['usd']} per image"
    if kind == "per_second":
        return f"${rule['usd']} per second of predict_time"
    if kind == "per_image_by_setting":
        prices = ", ".join(f"{k}: ${v}" for k, v in rule["usd"].items())
        return f"per image by {rule['setting']} ({prices})"
    if kind == "per_megapixel_by_setting":
        sizes = ", ".join(f"{k}: {v} MP" for k, v in rule["megapixels"].items())
        return (
            f"${rule.get('usd_per_run', 0)} a run + ${rule['usd_per_megapixel']} per megapixel of input "
            f"({rule.get('input_megapixels', 0)} MP) and output (by {rule['setting']}: {sizes})"
        )
    return (
        f"${rule.get('usd_per_run', 0)} a run + ${rule['usd_per_megapixel']} per megapixel of input "
        f"({rule.get('input_megapixels', 0)} MP) and output ({rule['setting']})"
    )
