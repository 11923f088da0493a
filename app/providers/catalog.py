"""Which Replicate model each preset provider runs, and how to talk to it.

A provider is a row of the `providers` table (`app.provider_rows` reads it into a `Provider`): the model (or
version, for community models that cannot be created by name), the input field that carries the reference photo,
the app's own defaults, how the output comes back (one URL or a list of them) and its price rule. The settings a
preset may set come from the model's input schema snapshot (`schemas.py`). `PROVIDERS` here are the seed's four,
as migration 0015 first wrote them: what a database starts with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.providers import schemas


@dataclass(frozen=True)
class Provider:
    name: str  # the enum value the API and the database use
    label: str
    model: str  # owner/name on Replicate
    image_field: str  # where the reference photo goes
    image_as_list: bool  # nano-banana takes a list of images
    by_version: bool = False  # community models are created by version hash
    output_is_list: bool = False
    defaults: dict = field(default_factory=dict)
    managed: frozenset[str] = frozenset()  # inputs the app fills or fixes besides the prompt and the photo
    narrowed: dict = field(default_factory=dict)  # stricter rules than the schema's, with the reason in a comment
    display_name: str = ""
    description: str = ""
    # the row's own snapshot of the model's Input schema; None: the seed's file in schemas/ (`load_snapshot`)
    input_schema: dict | None = None
    price: dict | None = None  # the price rule (`app.spend.pricing`); None: the PRICE_* settings
    state: str = "active"  # "retired": kept for history, offered no more; "disabled": shipped turned off
    version: str | None = None  # the pinned version of a model created by version

    @property
    def active(self) -> bool:
        return self.state == "active"

    @property
    def input_properties(self) -> dict:
        """The model's inputs, as its schema snapshot publishes them."""
        schema = self.input_schema if self.input_schema is not None else schemas.load_snapshot(self.name).input_schema
        return dict(schema.get("properties", {}))

    @property
    def settings_schema(self) -> dict:
        managed = self.managed | {"prompt", self.image_field}
        schema = self.input_schema if self.input_schema is not None else schemas.load_snapshot(self.name).input_schema
        return schemas.settings_schema(schema, managed, self.narrowed)

    @property
    def settings(self) -> dict[str, schemas.Field]:
        """The settings a preset may set, in the schema's order, for forms."""
        return {f.name: f for f in schemas.fields(self.settings_schema)}

    def settings_problems(self, settings: Any) -> list[str]:
        return schemas.problems(self.settings_schema, settings or {}, self.model)

    def problems_by_setting(self, settings: dict) -> dict[str, list[str]]:
        """Each refused setting's problems by its key ("must be at most 1 (got 99999.0)"), for a form."""
        return schemas.problems_by_setting(self.settings_schema, settings, self.model)

    def sent_settings(self, settings: dict | None) -> dict:
        """The settings a prediction is sent: the app's defaults, then the preset's (only those the schema
        knows). Never the prompt or the reference photo (its URL may be signed): they are added apart."""
        sent = dict(self.defaults)
        sent.update({k: v for k, v in (settings or {}).items() if k in self.settings_schema["properties"]})
        return sent

    def version_label(self, version: str | None) -> str:
        """What a prediction runs: "owner/name" for an official model, "owner/name:version" for one
        created by version (`version`: the hash the generator sends)."""
        return f"{self.model}:{version}" if self.by_version and version else self.model

    def build_input(self, prompt: str, reference_url: str, settings: dict) -> dict:
        payload = self.sent_settings(settings)
        payload["prompt"] = prompt
        payload[self.image_field] = [reference_url] if self.image_as_list else reference_url
        return payload

    def output_urls(self, output: Any) -> list[str]:
        """Normalise what `predictions.get` returns: a URL string or a list of them."""
        if isinstance(output, str):
            return [output]
        if isinstance(output, list):
            return [u for u in output if isinstance(u, str)]
        return []

    def validate_settings(self, settings: Any) -> dict:
        """Return the settings or raise ValueError naming every setting the model would refuse."""
        if settings is None:
            return {}
        found = self.settings_problems(settings)
        if found:
            raise ValueError("; ".join(found))
        return dict(settings)


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            name="NANO_BANANA",
            label="Nano Banana (google/nano-banana)",
            display_name="Nano Banana",
            description="Google's image editor; keeps the face and follows the prompt closely.",
            model="google/nano-banana",
            image_field="image_input",
            image_as_list=True,
            defaults={"output_format": "jpg", "aspect_ratio": "match_input_image"},
        ),
        Provider(
            name="FLUX_KONTEXT",
            label="FLUX Kontext Pro (black-forest-labs/flux-kontext-pro)",
            display_name="FLUX Kontext Pro",
            description="Black Forest Labs' instruction-based editor; restyles a photo while keeping the person.",
            model="black-forest-labs/flux-kontext-pro",
            image_field="input_image",
            image_as_list=False,
            defaults={"aspect_ratio": "match_input_image", "output_format": "jpg", "safety_tolerance": 2},
            # the model refuses a safety_tolerance over 2 with an input image, and every job sends one
            narrowed={"safety_tolerance": {"maximum": 2}},
        ),
        Provider(
            name="FLUX_PRO",
            label="FLUX 1.1 Pro (black-forest-labs/flux-1.1-pro)",
            display_name="FLUX 1.1 Pro",
            description="Black Forest Labs' text-to-image model; the photo is only a loose guide, so faces drift.",
            model="black-forest-labs/flux-1.1-pro",
            image_field="image_prompt",
            image_as_list=False,
            defaults={"aspect_ratio": "1:1", "output_format": "jpg", "safety_tolerance": 2},
        ),
        Provider(
            name="STABLE_DIFFUSION",
            label="Stable Diffusion img2img (stability-ai/stable-diffusion-img2img)",
            display_name="Stable Diffusion img2img",
            description="Stability AI's classic image-to-image model; redraws a share of the photo.",
            model="stability-ai/stable-diffusion-img2img",
            image_field="image",
            image_as_list=False,
            by_version=True,
            output_is_list=True,
            defaults={"num_outputs": 1, "prompt_strength": 0.8},
            managed=frozenset({"num_outputs"}),  # one output per prediction: each is one example
            narrowed={"prompt_strength": {"minimum": 0, "maximum": 1}},  # a share of the photo to redraw
        ),
    )
}

DEFAULT_PROVIDER = "NANO_BANANA"


def get_provider(name: str) -> Provider:
    """One of the seed's four (the pipeline hands a generator the row it read; this is for code and tests
    that name a seed provider)."""
    try:
        return PROVIDERS[name]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}; choose one of {', '.join(PROVIDERS)}") from None
