"""Reading predictions by listing the account: one call answers for every prediction a consumer waits on."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import replicate

from app.core.config import ConfigError, load_settings
from tests.doubles import LocalApiUsage
from tests.helpers import CountingLimiter, generator_for, spec

NANO = "google/nano-banana"


def run_items(generator, count: int) -> list:
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [
            pool.submit(generator.run, spec(n, model_id=f"m{n}"), lambda pid: None, threading.Event())
            for n in range(count)
        ]
        return [f.result(timeout=120) for f in futures]


def test_twenty_predictions_are_read_by_lists_of_the_account_not_one_by_one(replicate_server, tmp_path):
    replicate_server.latency, replicate_server.jitter = 1.0, 0.5
    reads, usage = CountingLimiter(), LocalApiUsage()
    generator = generator_for(replicate_server, tmp_path, read_limiter=reads, usage=usage)
    results = run_items(generator, 20)
    assert len({r.prediction_id for r in results}) == 20
    counts = replicate_server.call_counts()
    by_endpoint = counts["reads_by_endpoint"]
    assert by_endpoint.get("predictions.get", 0) == 0, "no prediction was read on its own"
    assert 1 <= by_endpoint["predictions.list"] <= 20, by_endpoint
    assert reads.taken == counts["reads"] == usage.summary()["reads"], "every list took a token and was counted"
    assert max(replicate_server.download_delays()) < 1.0, "each output was fetched soon after it ended"


def test_lists_follow_older_pages_while_the_production_app_floods_the_account(replicate_server, tmp_path):
    """The production app creates 150 predictions while ours run: ours are on the list's second page."""
    replicate_server.latency, replicate_server.jitter = 2.0, 0.0
    replicate_server.create_limit_per_minute = None  # the production app's creates are not what is tested
    generator = generator_for(replicate_server, tmp_path)
    production = replicate.Client(api_token=replicate_server.token, base_url=replicate_server.url)

    def flood():
        time.sleep(0.5)
        for n in range(150):
            production.predictions.create(model=NANO, input={"prompt": f"end user {n}"})

    flooding = threading.Thread(target=flood)
    flooding.start()
    results = run_items(generator, 5)
    flooding.join()
    assert len(results) == 5
    by_endpoint = replicate_server.call_counts()["reads_by_endpoint"]
    assert by_endpoint.get("predictions.get", 0) == 0, by_endpoint


def test_predictions_older_than_the_pages_reach_are_read_on_their_own(replicate_server, tmp_path):
    """400 newer predictions push ours past the 3 pages a round reads: each item reads its own, and ends."""
    replicate_server.latency, replicate_server.jitter = 3.0, 0.0
    replicate_server.create_limit_per_minute = None
    generator = generator_for(replicate_server, tmp_path)
    production = replicate.Client(api_token=replicate_server.token, base_url=replicate_server.url)
    replicate_server.latency_when = lambda model, inp: 60.0 if "end user" in str(inp.get("prompt")) else None

    def flood():
        time.sleep(0.3)
        for n in range(400):
            production.predictions.create(model=NANO, input={"prompt": f"end user {n}"})

    flooding = threading.Thread(target=flood)
    flooding.start()
    results = run_items(generator, 3)
    flooding.join()
    assert len(results) == 3
    by_endpoint = replicate_server.call_counts()["reads_by_endpoint"]
    assert by_endpoint.get("predictions.get", 0) >= 3, by_endpoint


def test_an_aborted_prediction_of_the_production_app_does_not_break_the_list(replicate_server, tmp_path):
    """The client cannot parse `aborted`; the raw list can, and our prediction still ends."""
    replicate_server.latency = 0.5
    production = replicate.Client(api_token=replicate_server.token, base_url=replicate_server.url)
    replicate_server.abort_rate = 1.0
    production.predictions.create(model=NANO, input={"prompt": "end user"})
    replicate_server.abort_rate = 0.0
    generator = generator_for(replicate_server, tmp_path)
    result = generator.run(spec(), lambda pid: None, threading.Event())
    assert result.image_key
    assert replicate_server.call_counts()["reads_by_endpoint"].get("predictions.get", 0) == 0


def test_reading_one_by_one_stays_available(replicate_server, tmp_path):
    replicate_server.latency = 0.3
    generator = generator_for(replicate_server, tmp_path, read_by_list=False)
    generator.run(spec(), lambda pid: None, threading.Event())
    by_endpoint = replicate_server.call_counts()["reads_by_endpoint"]
    assert by_endpoint.get("predictions.list", 0) == 0 and by_endpoint["predictions.get"] >= 1


@pytest.mark.fast
@pytest.mark.parametrize(("value", "expected"), [("", True), ("1", True), ("0", False)])
def test_the_setting(value, expected, tmp_path):
    settings = load_settings({"REPLICATE_READ_BY_LIST": value, "INSTANCE_PATH": str(tmp_path)})
    assert settings.read_by_list is expected


@pytest.mark.fast
def test_a_bad_setting_is_refused_with_its_name():
    with pytest.raises(ConfigError, match="REPLICATE_READ_BY_LIST"):
        load_settings({"REPLICATE_READ_BY_LIST": "yes"})
