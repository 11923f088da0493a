"""A canceled job tells the truth: its items start interleaved by gender, so a cancel keeps the balance."""

import threading

import pytest

from app.core.database import db
from app.jobs.items import start_order
from app.jobs.pipeline import JobRunner
from app.models import Job, JobItem
from app.providers.base import ItemFailed, ItemResult, Stopped
from tests.conftest import auth_headers, create_preset, post_generate
from tests.helpers import spec


@pytest.mark.fast
def test_items_start_with_genders_taking_turns_and_first_examples_first():
    specs = [
        spec(n, model_id=f"{g}_{m:02d}", gender=g, index=i)
        for n, (g, m, i) in enumerate((g, m, i) for g in ("male", "female") for m in range(3) for i in range(2))
    ]
    order = [(s.gender[0], s.model_id[-2:], s.index) for s in start_order(specs)]
    assert order[:6] == [("m", "00", 0), ("f", "00", 0), ("m", "01", 0), ("f", "01", 0), ("m", "02", 0), ("f", "02", 0)]
    assert [s.index for s in start_order(specs)] == [0] * 6 + [1] * 6
    uneven = [spec(n, model_id=f"male_{n}", gender="male") for n in range(3)] + [spec(9, gender="female")]
    assert [s.gender for s in start_order(uneven)] == ["male", "female", "male", "male"], "the rest follow"


class CreatesThenWaits:
    """Makes placeholders, announcing a prediction for each; after `limit` creates the next items wait for the
    cancel. Item number `fail_at` fails after its create."""

    offline = True

    def __init__(self, inner, limit: int, fail_at: int | None = None):
        self.inner, self.limit, self.fail_at = inner, limit, fail_at
        self.created = 0
        self.lock = threading.Lock()
        self.reached = threading.Event()

    def run(self, item, on_created, stop) -> ItemResult:
        with self.lock:
            if stop.is_set() or self.created >= self.limit:
                number = None
            else:
                self.created += 1
                number = self.created
        if number is None:
            stop.wait(30)
            raise Stopped()
        on_created(f"offline-{number}")
        if number == self.limit:
            self.reached.set()
        if number == self.fail_at:
            raise ItemFailed("the model said no")
        return self.inner.run(item, lambda _: None, stop)

    def cancel(self, prediction_id):
        return None


def canceled_after(app, client, creates: int, fail_at: int | None = None) -> str:
    """A 20 × 2 job run with two items at a time and canceled (through the API) after `creates` creates."""
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    preset = create_preset(client)
    job_id = post_generate(client, preset["id"], {"examplesPerModel": 2}).get_json()["jobId"]
    services = app.extensions["pixelglow"]
    generator = CreatesThenWaits(services.generator(offline=True), creates, fail_at)
    outcome: dict = {}

    def work():
        with app.app_context():
            outcome["summary"] = JobRunner(job_id, services, generator, concurrency=2).run()

    worker = threading.Thread(target=work)
    worker.start()
    assert generator.reached.wait(30), "the job made its creates"
    assert client.post(f"/api/admin/jobs/{job_id}/cancel", headers=auth_headers()).status_code == 202
    worker.join(60)
    assert outcome["summary"]["status"] == "canceled"
    return job_id


def test_a_job_canceled_after_ten_creates_started_five_of_each_gender(make_app):
    app = make_app()
    job_id = canceled_after(app, app.test_client(), 10)
    with app.app_context():
        started = db.session.scalars(
            db.select(JobItem.gender).where(JobItem.job_id == job_id, JobItem.prediction_id.isnot(None))
        ).all()
        assert db.session.get(Job, job_id).total == 40
    assert len(started) == 10
    assert abs(started.count("male") - started.count("female")) <= 2, started  # 5 and 5, ±1
