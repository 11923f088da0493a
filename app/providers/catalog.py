"""Which Replicate model each preset provider runs, and how to talk to it.

One row per provider: the model (or version, for community models that cannot be
created by name), the input field that carries the reference photo, the settings a
preset may set, and how the output comes back (one URL or a list of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Setting:
    kind: type
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None

    def check(self, key: str, value) -> None:
        """Raise ValueError naming `key` when `value` does not fit this setting."""
        if not self.has_kind(value):
            raise ValueError(f"setting {key!r} must be of type {self.kind.__name__}")
        if self.choices and value not in self.choices:
            raise ValueError(f"setting {key!r} must be one of {', '.join(map(str, self.choices))}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"setting {key!r} must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"setting {key!r} must be at most {self.maximum}")

    def has_kind(self, value) -> bool:
        if self.kind is bool or isinstance(value, bool):
            return self.kind is bool and isinstance(value, bool)
        if self.kind is int:
            return isinstance(value, int)
        if self.kind is float:
            return isinstance(value, (int, float))
        return isinstance(value, str)


@dataclass(frozen=True)
class Provider:
    name: str
    label: str
    model: str  # owner/name on Replicate
    image_field: str  # where the reference photo goes
    image_as_list: bool  # nano-banana takes a list of images
    by_version: bool = False  # community models are created by version hash
    output_is_list: bool = False
    defaults: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def build_input(self, prompt: str, reference_url: str, settings: dict) -> dict:
        payload = dict(self.defaults)
        payload.update({k: v for k, v in (settings or {}).items() if k in self.settings})
        payload["prompt"] = prompt
        payload[self.image_field] = [reference_url] if self.image_as_list else reference_url
        return payload

    def output_urls(self, output) -> list[str]:
        """Normalise what `predictions.get` returns: a URL string or a list of them."""
        if isinstance(output, str):
            return [output]
        if isinstance(output, list):
            return [u for u in output if isinstance(u, str)]
        return []

    def validate_settings(self, settings) -> dict:
        """Return cleaned settings or raise ValueError with a message naming the setting."""
        if settings is None:
            return {}
        if not isinstance(settings, dict):
            raise ValueError("settings must be an object")
        for key, value in settings.items():
            spec = self.settings.get(key)
            if spec is None:
                allowed = ", ".join(sorted(self.settings)) or "none"
                raise ValueError(f"setting {key!r} is not used by {self.name} (allowed: {allowed})")
            spec.check(key, value)
        return dict(settings)


ASPECT_RATIOS = ("match_input_image", "1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "4:5", "5:4", "21:9", "9:21")

PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            name="NANO_BANANA",
            label="Nano Banana (google/nano-banana)",
            model="google/nano-banana",
            image_field="image_input",
            image_as_list=True,
            defaults={"output_format": "jpg", "aspect_ratio": "match_input_image"},
            settings={
                "aspect_ratio": Setting(str, ASPECT_RATIOS),
                "output_format": Setting(str, ("jpg", "png")),
            },
        ),
        Provider(
            name="FLUX_KONTEXT",
            label="FLUX Kontext Pro (black-forest-labs/flux-kontext-pro)",
            model="black-forest-labs/flux-kontext-pro",
            image_field="input_image",
            image_as_list=False,
            defaults={"aspect_ratio": "match_input_image", "output_format": "jpg", "safety_tolerance": 2},
            settings={
                "aspect_ratio": Setting(str, ASPECT_RATIOS),
                "output_format": Setting(str, ("jpg", "png")),
                "safety_tolerance": Setting(int, minimum=0, maximum=2),
                "seed": Setting(int, minimum=0),
            },
        ),
        Provider(
            name="FLUX_PRO",
            label="FLUX 1.1 Pro (black-forest-labs/flux-1.1-pro)",
            model="black-forest-labs/flux-1.1-pro",
            image_field="image_prompt",
            image_as_list=False,
            defaults={"aspect_ratio": "1:1", "output_format": "jpg", "safety_tolerance": 2},
            settings={
                "aspect_ratio": Setting(str, tuple(a for a in ASPECT_RATIOS if a != "match_input_image")),
                "output_format": Setting(str, ("webp", "jpg", "png")),
                "safety_tolerance": Setting(int, minimum=1, maximum=6),
                "prompt_upsampling": Setting(bool),
                "seed": Setting(int, minimum=0),
            },
        ),
        Provider(
            name="STABLE_DIFFUSION",
            label="Stable Diffusion img2img (stability-ai/stable-diffusion-img2img)",
            model="stability-ai/stable-diffusion-img2img",
            image_field="image",
            image_as_list=False,
            by_version=True,
            output_is_list=True,
            defaults={"num_outputs": 1, "prompt_strength": 0.8},
            settings={
                "negative_prompt": Setting(str),
                "prompt_strength": Setting(float, minimum=0, maximum=1),
                "num_inference_steps": Setting(int, minimum=1, maximum=500),
                "guidance_scale": Setting(float, minimum=1, maximum=20),
                "scheduler": Setting(
                    str, ("DDIM", "K_EULER", "DPMSolverMultistep", "K_EULER_ANCESTRAL", "PNDM", "KLMS")
                ),
                "seed": Setting(int, minimum=0),
            },
        ),
    )
}

DEFAULT_PROVIDER = "NANO_BANANA"


def get_provider(name: str) -> Provider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}; choose one of {', '.join(PROVIDERS)}") from None
