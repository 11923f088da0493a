"""A canceled job tells the truth: its items start interleaved by gender, so a cancel keeps the balance."""

import re
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


def counts_in(html: str) -> dict[str, int]:
    """The stored / failed / canceled counts of the first job outcome in the page (a count not shown is 0)."""
    cell = re.search(r'class="job-outcome">(.*?)</(?:dd|td)>', html, re.S).group(1)
    found = dict.fromkeys(("done", "failed", "canceled"), 0)
    found |= {k: int(v) for k, v in re.findall(r"<span data-(done|failed|canceled)[^>]*>(\d+)</span>", cell)}
    return found


def retry_button(html: str) -> str:
    return re.search(r'<button class="btn primary retry-job" type="submit">([^<]*)</button>', html).group(1)


def test_a_canceled_job_tells_the_same_counts_on_its_page_in_the_list_and_in_the_api(admin_app, admin_client):
    job_id = canceled_after(admin_app, admin_client, 10, fail_at=3)
    api = admin_client.get(f"/api/admin/jobs/{job_id}", headers=auth_headers()).get_json()
    assert (api["done"], api["failed"], api["canceled"], api["total"]) == (9, 1, 30, 40)
    assert api["percent"] == 25 and api["stage"] == "canceled", "the bar shows how far it got, not 100 %"
    assert api["message"] == "9 of 40 examples stored, 1 failed before the cancel; 30 canceled"
    page = admin_client.get(f"/admin/jobs/{job_id}").get_data(as_text=True)
    listed = admin_client.get("/admin/jobs").get_data(as_text=True)
    assert counts_in(page) == counts_in(listed) == {"done": 9, "failed": 1, "canceled": 30}
    assert retry_button(page) == "Retry 1 failed and 30 canceled items"
    fragment = admin_client.get(f"/admin/jobs/{job_id}/progress?view=preset").get_data(as_text=True)
    assert 'value="25"' in fragment and "25 %" in fragment and "100 %" not in fragment
    assert "Complete" not in fragment and "<strong>Canceled</strong>" in fragment
    assert "<b data-canceled>30</b> canceled" in fragment
    retried = admin_client.post(f"/api/admin/jobs/{job_id}/retry", headers=auth_headers()).get_json()
    assert retried["message"].startswith("Retrying 1 failed and 30 canceled items of ")
    assert (retried["failedItems"], retried["canceledItems"], len(retried["items"])) == (1, 30, 31)


def test_a_20_by_2_job_canceled_before_it_started_offers_to_retry_its_40_canceled_items(admin_app, admin_client):
    admin_app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    preset = create_preset(admin_client)
    job_id = post_generate(admin_client, preset["id"], {"examplesPerModel": 2}).get_json()["jobId"]
    assert admin_client.post(f"/api/admin/jobs/{job_id}/cancel", headers=auth_headers()).status_code == 202
    api = admin_client.get(f"/api/admin/jobs/{job_id}", headers=auth_headers()).get_json()
    assert (api["done"], api["failed"], api["canceled"], api["percent"]) == (0, 0, 40, 0)
    page = admin_client.get(f"/admin/jobs/{job_id}").get_data(as_text=True)
    assert counts_in(page) == counts_in(admin_client.get("/admin/jobs").get_data(as_text=True))
    assert counts_in(page) == {"done": 0, "failed": 0, "canceled": 40}
    assert retry_button(page) == "Retry 40 canceled items"
    retried = admin_client.post(f"/admin/jobs/{job_id}/retry", data={"csrf_token": admin_client.csrf})
    assert "Retrying 40 canceled items of 20 models in a new job." in admin_client.get(
        retried.headers["Location"]
    ).get_data(as_text=True)
