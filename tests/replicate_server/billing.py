"""What Replicate would bill each prediction, by the rule in the model's file (``price``, the rule its model page
states): per image, per image by a setting's value, or a run plus the input's and output's megapixels. Computed
here from the prediction's input and the version's schema defaults, apart from the app's own pricing, so a test
can set the app's ledger beside it. Only a succeeded prediction of these models is billed."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from tests.replicate_server.schemas import input_schema_of
from tests.replicate_server.state import Prediction, state_at


def sent_value(inp: dict, props: dict, name: str) -> Any:
    """The value a prediction ran with: its input's, else the schema's default."""
    return inp.get(name, props.get(name, {}).get("default"))


def images_in(inp: dict, props: dict) -> int:
    """How many input images the prediction carries (its uri and list-of-uri inputs)."""
    count = 0
    for name, spec in props.items():
        value = inp.get(name)
        if spec.get("type") == "array" and spec.get("items", {}).get("format") == "uri" and isinstance(value, list):
            count += len(value)
        elif spec.get("format") == "uri" and isinstance(value, str):
            count += 1
    return count


def price_of(rule: dict, inp: dict, props: dict) -> Decimal:
    """One succeeded prediction under ``rule``."""
    kind = rule["kind"]
    if kind == "per_image":
        return Decimal(rule["usd"])
    if kind == "per_image_by_setting":
        return Decimal(rule["usd"][str(sent_value(inp, props, rule["setting"]))])
    if kind == "per_megapixel_by_setting":
        out = Decimal(rule["megapixels"][str(sent_value(inp, props, rule["setting"]))])
        inputs = Decimal(rule["input_megapixels"]) * images_in(inp, props)
        return Decimal(rule["usd_per_run"]) + Decimal(rule["usd_per_megapixel"]) * (inputs + out)
    raise ValueError(f"this server does not bill by {kind!r}")


class Billing:
    """The bill of each prediction so far, for the models whose file states a price."""

    def bills(self) -> list[dict]:
        """Per prediction, in creation order: ``id``, ``model``, ``status`` now, and ``usd`` (a Decimal; None for
        a model without a price in its file)."""
        now = time.monotonic()
        with self._lock:
            recs: list[Prediction] = [self._preds[i] for i in self._order]
            out = []
            for rec in recs:
                status = state_at(rec, now)[0]
                rule = self.models[rec.model].get("price")
                usd = None
                if rule is not None:
                    props = input_schema_of(self.model_version(rec.model)["openapi_schema"]).get("properties", {})
                    usd = price_of(rule, rec.input, props) if status == "succeeded" else Decimal(0)
                out.append({"id": rec.id, "model": rec.model, "status": status, "usd": usd})
            return out
