"""A seeded history for the analytics tests (issue 19): 20 presets over the 4 providers, the 72 reference
models (and one no longer in models.json), jobs before, inside and after the range with succeeded, failed,
canceled and still-open items, examples in every curation state, spend entries (a deleted preset's too),
and rows on the range's edges (23:59:59 on the last day, midnight after it)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from app.core.database import db
from app.models import GalleryExample, Job, JobItem, Preset, PresetModelUsage, SpendEntry

PROVIDERS = ("NANO_BANANA", "FLUX_KONTEXT", "FLUX_PRO", "STABLE_DIFFUSION")
PRICES = {"NANO_BANANA": Decimal("0.039"), "FLUX_KONTEXT": Decimal("0.04"), "FLUX_PRO": Decimal("0.04")}
SD_RATE = Decimal("0.000225")
STATES = ("unreviewed", "approved", "featured", "rejected")
RETIRED = "retired-model-7"  # in the data, no longer in models.json
FIRST, LAST = datetime(2026, 9, 1), datetime(2026, 10, 31)  # the range the tests ask for
QUERY = "from=2026-09-01&to=2026-10-31"  # the same range as a query string


def cost(provider: str, state: str, seconds: float | None) -> Decimal:
    if provider == "STABLE_DIFFUSION":
        return (Decimal(str(round(seconds or 0, 3))) * SD_RATE).quantize(Decimal("0.000001"))
    return PRICES[provider] if state == "succeeded" else Decimal("0")


class Seeder:
    def __init__(self, models: list[tuple[str, str]], seed: int = 19):
        self.models = models + [(RETIRED, "male")]
        self.rng = random.Random(seed)
        self.used: set[tuple[str, str]] = set()

    def job(self, preset: Preset, created: datetime, count: int = 6, open_items: bool = False) -> None:
        rng = self.rng
        job = Job(preset_id=preset.id, prompt="p", provider=preset.provider, created_at=created, status="partial")
        db.session.add(job)
        db.session.flush()
        for n, (model_id, gender) in enumerate(rng.sample(self.models, count)):
            state = (
                "pending" if open_items and n == 0 else rng.choices(("succeeded", "failed", "canceled"), (7, 2, 1))[0]
            )
            seconds = rng.uniform(2.0, 40.0) if state in ("succeeded", "failed") else None
            item = JobItem(
                job_id=job.id, model_id=model_id, gender=gender, reference_url="https://x/y.png", state=state
            )
            item.prediction_seconds = seconds if state == "succeeded" or rng.random() < 0.5 else None
            db.session.add(item)
            ended = created + timedelta(seconds=rng.uniform(1, 600))
            if state == "succeeded":
                self.example(preset, job, model_id, gender, ended)
            if state != "pending":
                db.session.add(self.entry(preset.id, job.id, model_id, preset.provider, state, seconds, ended))

    def example(self, preset: Preset, job: Job, model_id: str, gender: str, at: datetime) -> None:
        db.session.add(
            GalleryExample(
                preset_id=preset.id,
                job_id=job.id,
                model_id=model_id,
                gender=gender,
                provider=preset.provider,
                prompt="p",
                image_path=f"presets/{preset.id}/{job.id}-{model_id}.png",
                created_at=at,
                state=self.rng.choice(STATES),
            )
        )
        self.used.add((preset.id, model_id))

    @staticmethod
    def entry(preset_id, job_id, model_id, provider, state, seconds, at) -> SpendEntry:
        return SpendEntry(
            month=at.strftime("%Y-%m"),
            job_id=job_id,
            preset_id=preset_id,
            model_id=model_id,
            provider=provider,
            basis="per_second" if provider == "STABLE_DIFFUSION" else "per_image",
            amount=cost(provider, state, seconds),
            predict_time=seconds,
            created_at=at,
        )


def seed_history(app, presets: int = 20, name_prefix: str = "Preset") -> list[str]:
    """The history; returns the preset ids. Idempotent per name prefix (call again with another prefix)."""
    with app.app_context():
        models = [(m.id, m.gender) for m in app.extensions["pixelglow"].registry().all]
        seeder = Seeder(models, seed=19 + sum(map(ord, name_prefix)))
        rows = [
            Preset(name=f"{name_prefix} {n:02d}", prompt="p", provider=PROVIDERS[n % 4], settings={})
            for n in range(presets)
        ]
        db.session.add_all(rows)
        db.session.flush()
        span = (datetime(2026, 11, 15) - datetime(2026, 8, 15)).total_seconds()
        for preset in rows:
            for _ in range(3):
                seeder.job(preset, datetime(2026, 8, 15) + timedelta(seconds=seeder.rng.uniform(0, span)))
        edges = rows[0]
        for moment in ("2026-08-31 23:59:59", "2026-09-01 00:00:00", "2026-10-31 23:59:59", "2026-11-01 00:00:00"):
            seeder.job(edges, datetime.fromisoformat(moment), count=3, open_items=True)
        for preset_id, model_id in seeder.used:
            db.session.add(PresetModelUsage(preset_id=preset_id, model_id=model_id, state="used"))
        db.session.add(PresetModelUsage(preset_id=rows[1].id, model_id=models[0][0], state="reserved"))
        deleted = "0" * 32  # a preset deleted since: its spend stays in the ledger
        db.session.add(Seeder.entry(deleted, None, models[1][0], "FLUX_PRO", "succeeded", 5.0, datetime(2026, 9, 9)))
        db.session.commit()
        return [p.id for p in rows]
