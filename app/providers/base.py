"""The contract between the pipeline and whatever makes an example.

The pipeline hands a generator one `ItemSpec` at a time, from many threads at once, and
gets back an `ItemResult` (the image is already in our storage) or one of two exceptions:
`ItemFailed` (this model's example cannot be made; the job goes on) or `Stopped` (the job
is stopping; leave the prediction so a resume can pick it up).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from app.storage.base import example_key
from app.storage.sizes import ImageSizes

if TYPE_CHECKING:
    from app.providers.catalog import Provider


class ItemFailed(Exception):
    """This model's example could not be made; the job goes on with the others. `predict_time`: the
    seconds Replicate billed the prediction for (time-billed models cost them even when they fail).
    `succeeded`: the prediction itself succeeded at Replicate, which bills it as such, but its output
    could not be kept (a refused or undownloadable image)."""

    def __init__(self, reason: str | None, predict_time: float | None = None, succeeded: bool = False) -> None:
        super().__init__(reason)
        self.predict_time = predict_time
        self.succeeded = succeeded


class Stopped(Exception):
    """The job is stopping (crash elsewhere or cancel): leave the prediction for a resume."""


@dataclass
class ItemSpec:
    item_id: int
    job_id: str
    preset_id: str
    preset_name: str
    model_id: str
    gender: str
    reference_url: str
    index: int
    prompt: str
    provider: str
    settings: dict
    prediction_id: str | None = None
    # how long this provider's recent predictions took (seconds, from the job items): when to read
    recent_seconds: tuple[float, ...] = ()
    # the provider as its row said when the job started (None: the seed's provider of that name)
    provider_spec: Provider | None = None
    # where a comparison's output goes (comparisons/<comparison>/<cell>): a key that does not name its variant
    output_key: str | None = None

    def image_key(self, extension: str) -> str:
        """Where its output is stored: the gallery's folder of its job, or the comparison's opaque key."""
        if self.output_key:
            return f"{self.output_key}.{extension}"
        return example_key(self.preset_id, self.job_id, self.model_id, self.index, extension)


@dataclass
class ItemResult:
    image_key: str
    prediction_id: str | None
    offline: bool = False
    prediction_seconds: float | None = None  # create to completion, as the provider timed it
    predict_time: float | None = None  # metrics.predict_time: what a time-billed model is charged for
    # what made it, kept with the example: "owner/name" or "owner/name:version" (offline: says so), and
    # the settings sent after the provider's defaults and schema (never the prompt or the photo's URL)
    model_version: str | None = None
    settings: dict | None = None
    sizes: ImageSizes | None = None  # the thumbnail and medium size; None when they could not be made


@dataclass(frozen=True)
class Ending:
    """How a prediction ended at the provider, as far as its bill goes: what a cancel learns of it."""

    succeeded: bool
    predict_time: float | None = None


class Generator(Protocol):
    offline: bool

    def run(self, spec: ItemSpec, on_created: Callable[[str], None], stop: threading.Event) -> ItemResult:
        """Make one example and store it. `on_created` gets the prediction id as soon as it exists,
        so a crash after that point resumes the prediction instead of paying for a new one."""
        ...

    def cancel(self, prediction_id: str) -> Ending | None:
        """Ask the provider to stop a prediction; never raises. Returns how it ended (it may have
        finished before the cancel), or None when the provider could not say (unreachable, still stopping)."""
        ...


class Limiter(Protocol):
    """Waits for a turn to call the provider (a token bucket); False when `stop` was set first."""

    def acquire(self, stop: threading.Event) -> bool: ...


class UsageCounter(Protocol):
    """Counts the provider calls made, by kind ("create", "read", "read_429", …)."""

    def record(self, kind: str) -> None: ...


class Completions(Protocol):
    """What webhooks told of predictions, shared between the web process (which records) and the workers."""

    def expect(self, prediction_id: str) -> None: ...

    def get(self, prediction_id: str) -> dict | None: ...

    def wait(self, prediction_id: str, timeout: float, stop: threading.Event) -> dict | None: ...
