"""Tests of the fake Replicate server, driven through the real ``replicate`` 1.0.7 client."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import replicate
from PIL import Image
from pydantic import v1 as pydantic_v1
from replicate.exceptions import ReplicateError

from tests.replicate_server import (
    DEFAULT_TOKEN,
    FAILURE_ERROR,
    SD_IMG2IMG,
    SD_IMG2IMG_VERSION,
    SD_IMG2IMG_VERSION_ALIAS,
    ReplicateServer,
    percentile,
)

NANO = "google/nano-banana"
KONTEXT = "black-forest-labs/flux-kontext-pro"
FLUX_PRO = "black-forest-labs/flux-1.1-pro"
PHOTO = "https://example.test/ref/male_03.jpg"

VALID_INPUT = {
    NANO: {"prompt": "a portrait", "image_input": [PHOTO], "output_format": "png",
           "aspect_ratio": "match_input_image"},
    KONTEXT: {"prompt": "a portrait", "input_image": PHOTO, "aspect_ratio": "match_input_image",
              "output_format": "jpg", "safety_tolerance": 2, "seed": 7},
    FLUX_PRO: {"prompt": "a portrait", "image_prompt": PHOTO, "aspect_ratio": "1:1",
               "output_format": "webp", "safety_tolerance": 6, "prompt_upsampling": True, "seed": 1},
}
SD_INPUT = {"image": PHOTO, "prompt": "a portrait", "negative_prompt": "blurry", "prompt_strength": 0.8,
            "num_outputs": 3, "num_inference_steps": 25, "guidance_scale": 7.5,
            "scheduler": "K_EULER", "seed": 3}
STATUS_RANK = {"starting": 0, "processing": 1, "succeeded": 2}
SCHEMAS = Path(__file__).resolve().parent / "replicate_schemas"


@pytest.fixture
def server():
    srv = ReplicateServer(seed=1234).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def client(server):
    c = replicate.Client(api_token=server.token, base_url=server.url)
    c.poll_interval = 0.01
    return c


def auth(server) -> dict:
    return {"Authorization": f"Bearer {server.token}"}


def poll_until_terminal(prediction, timeout=5.0) -> list[str]:
    seen = [prediction.status]
    deadline = time.monotonic() + timeout
    while prediction.status not in ("succeeded", "failed", "canceled"):
        assert time.monotonic() < deadline, f"still {prediction.status}"
        time.sleep(0.01)
        prediction.reload()
        seen.append(prediction.status)
    return seen


def fetch_image(url: str) -> tuple[httpx.Response, Image.Image]:
    resp = httpx.get(url)
    assert resp.status_code == 200, resp.text
    img = Image.open(io.BytesIO(resp.content))
    img.load()
    return resp, img


# ----------------------------------------------------------------------------- create


@pytest.mark.parametrize("model", [NANO, KONTEXT, FLUX_PRO])
def test_create_official_model_by_name(server, client, model):
    server.latency = 0.05
    prediction = client.predictions.create(model=model, input=VALID_INPUT[model])

    assert prediction.status == "starting"
    assert prediction.model == model
    assert prediction.input == VALID_INPUT[model]
    assert prediction.output is None and prediction.error is None
    assert len(prediction.id) == 26 and prediction.id.isalnum() and prediction.id.islower()
    assert prediction.urls["get"] == f"{server.url}/v1/predictions/{prediction.id}"
    assert prediction.urls["cancel"] == f"{server.url}/v1/predictions/{prediction.id}/cancel"
    assert prediction.urls["web"] == f"https://replicate.com/p/{prediction.id}"
    assert prediction.created_at.endswith("Z") and prediction.started_at is None

    prediction.wait()
    assert prediction.status == "succeeded"
    ext = VALID_INPUT[model]["output_format"]
    assert isinstance(prediction.output, str)
    assert prediction.output == f"{server.url}/files/{prediction.id}/out-0.{ext}"
    assert prediction.metrics["predict_time"] > 0
    assert prediction.completed_at >= prediction.started_at >= prediction.created_at

    [record] = server.creates
    assert record["id"] == prediction.id and record["model"] == model
    assert record["input"] == VALID_INPUT[model] and record["prefer"] is None


def test_create_raw_json_shape(server):
    resp = httpx.post(f"{server.url}/v1/models/{NANO}/predictions", headers=auth(server),
                      json={"input": {"prompt": "x"}})
    assert resp.status_code == 201
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert set(body) >= {"id", "model", "version", "input", "logs", "output", "error", "status",
                         "created_at", "started_at", "completed_at", "data_removed", "source",
                         "urls", "metrics"}
    assert body["status"] == "starting" and body["logs"] == "" and body["metrics"] == {}
    assert body["data_removed"] is False and body["source"] == "api"
    assert set(body["urls"]) == {"get", "cancel", "stream", "web"}


def test_models_predictions_create_with_wait_blocks_until_done(server, client):
    server.latency = 0.3
    t0 = time.monotonic()
    prediction = client.models.predictions.create(model=NANO, input={"prompt": "x"}, wait=5)
    elapsed = time.monotonic() - t0
    assert prediction.status == "succeeded"
    assert prediction.output.endswith("/out-0.jpg")  # nano-banana defaults to jpg
    assert 0.25 <= elapsed < 2.0
    assert server.creates[0]["prefer"] == "wait=5"
    assert server.gets == 0


@pytest.mark.parametrize(("as_starting", "status"), [(True, "starting"), (False, "processing")])
def test_prefer_wait_gives_up_after_n_seconds(server, as_starting, status):
    server.latency = 5.0
    server.wait_timeout_as_starting = as_starting
    t0 = time.monotonic()
    resp = httpx.post(f"{server.url}/v1/models/{NANO}/predictions",
                      headers={**auth(server), "Prefer": "wait=0.3"}, json={"input": {"prompt": "x"}})
    elapsed = time.monotonic() - t0
    assert resp.status_code == 201
    assert resp.json()["status"] == status
    assert 0.25 <= elapsed < 1.5


def test_run_polls_after_blocking_wait_times_out(server, client):
    server.latency = 1.3
    t0 = time.monotonic()
    output = client.run(NANO, input={"prompt": "x"}, wait=1)
    assert 1.2 < time.monotonic() - t0 < 3
    assert str(output).endswith("/out-0.jpg")
    assert server.gets >= 1


def test_predictions_create_drops_wait_like_the_real_client(server, client):
    # The documented 1.0.7 quirk: predictions.create(model=...) silently drops `wait`.
    server.latency = 0.5
    prediction = client.predictions.create(model=NANO, input={"prompt": "x"}, wait=5)
    assert prediction.status == "starting"
    assert server.creates[0]["prefer"] is None


def test_create_by_version_sd_img2img_outputs_a_list(server, client):
    prediction = client.predictions.create(version=SD_IMG2IMG_VERSION, input=SD_INPUT)
    assert prediction.model == SD_IMG2IMG and prediction.version == SD_IMG2IMG_VERSION
    prediction.wait()
    assert prediction.status == "succeeded"
    assert prediction.output == [f"{server.url}/files/{prediction.id}/out-{i}.png" for i in range(3)]
    images = [fetch_image(url)[1] for url in prediction.output]
    assert len({img.tobytes() for img in images}) == 3


def test_sd_single_output_is_still_a_list(server, client):
    inp = {"image": PHOTO, "prompt": "x"}
    prediction = client.predictions.create(version=SD_IMG2IMG_VERSION_ALIAS, input=inp)
    prediction.wait()
    assert prediction.model == SD_IMG2IMG and prediction.version == SD_IMG2IMG_VERSION_ALIAS
    assert isinstance(prediction.output, list) and len(prediction.output) == 1


def test_create_with_owner_name_colon_version(server, client):
    prediction = client.predictions.create(version=f"{SD_IMG2IMG}:{SD_IMG2IMG_VERSION}",
                                           input={"image": PHOTO, "prompt": "x"})
    assert prediction.model == SD_IMG2IMG and prediction.version == SD_IMG2IMG_VERSION
    with pytest.raises(ReplicateError) as err:
        client.predictions.create(version=f"{FLUX_PRO}:{SD_IMG2IMG_VERSION}", input={"prompt": "x"})
    assert err.value.status == 422


def test_env_base_url_is_honoured(server, monkeypatch):
    monkeypatch.setenv("REPLICATE_BASE_URL", server.url)
    monkeypatch.setenv("REPLICATE_API_TOKEN", server.token)
    prediction = replicate.Client().predictions.create(model=NANO, input={"prompt": "env"})
    assert server.creates[0]["id"] == prediction.id


def test_async_client(server):
    server.latency = 0.05

    async def go():
        c = replicate.Client(api_token=server.token, base_url=server.url)
        c.poll_interval = 0.01
        p = await c.predictions.async_create(model=FLUX_PRO, input={"prompt": "x"})
        await p.async_wait()
        return p

    prediction = asyncio.run(go())
    assert prediction.status == "succeeded" and prediction.output.endswith(".webp")


# ----------------------------------------------------------------------------- status over time


def test_status_moves_starting_processing_succeeded(server, client):
    server.latency = 0.4
    prediction = client.predictions.create(model=NANO, input={"prompt": "x"})
    seen = poll_until_terminal(prediction)
    assert seen[0] == "starting" and seen[-1] == "succeeded"
    assert "processing" in seen
    ranks = [STATUS_RANK[s] for s in seen]
    assert ranks == sorted(ranks)
    got = client.predictions.get(prediction.id)
    assert got.status == "succeeded" and got.started_at is not None
    assert server.gets == len(seen)  # every reload is one GET


def test_processing_has_started_at_and_progress_logs(server, client):
    server.latency = 3.0
    prediction = client.predictions.create(model=NANO, input={"prompt": "x"})
    time.sleep(0.15)
    prediction.reload()
    assert prediction.status == "processing"
    assert prediction.started_at is not None and prediction.completed_at is None
    assert prediction.output is None and prediction.progress is not None


def test_latency_zero_is_terminal_at_first_get(server, client):
    prediction = client.predictions.create(model=KONTEXT, input={"prompt": "x"})
    assert prediction.status == "starting"
    assert client.predictions.get(prediction.id).status == "succeeded"


def test_jitter_spreads_durations(server, client):
    server.latency, server.jitter = 0.2, 0.1
    for _ in range(10):
        client.predictions.create(model=NANO, input={"prompt": "x"})
    time.sleep(0.35)
    times = [p["metrics"]["total_time"] for p in server.predictions()]
    assert all(0.1 <= t <= 0.3 for t in times)
    assert len(set(times)) > 1


def test_get_unknown_prediction_is_404(client):
    with pytest.raises(ReplicateError) as err:
        client.predictions.get("doesnotexist0000000000000a")
    assert err.value.status == 404


def test_list_predictions(server, client):
    ids = [client.predictions.create(model=NANO, input={"prompt": str(i)}).id for i in range(3)]
    page = client.predictions.list()
    assert [p.id for p in page.results] == ids[::-1]


# ----------------------------------------------------------------------------- errors


def test_wrong_token_is_401(server):
    bad = replicate.Client(api_token="r8_wrong", base_url=server.url)
    with pytest.raises(ReplicateError) as err:
        bad.predictions.create(model=NANO, input={"prompt": "x"})
    assert err.value.status == 401
    assert err.value.title == "Unauthenticated"
    assert err.value.detail == "You did not pass a valid authentication token"
    assert server.creates == []


def test_missing_token_is_401_problem_json(server):
    resp = httpx.get(f"{server.url}/v1/predictions/abc")
    assert resp.status_code == 401
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json() == {"title": "Unauthenticated",
                           "detail": "You did not pass a valid authentication token", "status": 401}


@pytest.mark.parametrize(
    ("model", "inp", "expected"),
    [
        (NANO, {}, "- input: prompt is required"),
        (NANO, {"prompt": "x", "image_input": PHOTO},
         "- input.image_input: Invalid type. Expected: array, given: string"),
        (NANO, {"prompt": "x", "image_input": ["not a url"]}, "- input.image_input.0: Does not match format 'uri'"),
        (NANO, {"prompt": "x", "output_format": "webp"}, "- input.output_format: output_format must be one of"),
        (KONTEXT, {"prompt": "x", "input_image": PHOTO, "safety_tolerance": 5},
         "- input.safety_tolerance: Must be less than or equal to 2"),
        (KONTEXT, {"prompt": "x", "safety_tolerance": 7}, "- input.safety_tolerance: Must be less than or equal to 6"),
        (KONTEXT, {"prompt": "x", "seed": "1"}, "- input.seed: Invalid type. Expected: integer, given: string"),
        (FLUX_PRO, {"prompt": "x", "safety_tolerance": 0}, "- input.safety_tolerance: Must be greater than or equal to 1"),
        (FLUX_PRO, {"prompt": "x", "aspect_ratio": "match_input_image"}, "- input.aspect_ratio: aspect_ratio must be one of"),
        (FLUX_PRO, {"prompt": "x", "prompt_upsampling": "yes"}, "- input.prompt_upsampling: Invalid type. Expected: boolean"),
    ],
)
def test_invalid_input_is_422(server, client, model, inp, expected):
    with pytest.raises(ReplicateError) as err:
        client.models.predictions.create(model=model, input=inp)
    assert err.value.status == 422
    assert expected in err.value.detail
    assert server.creates == []


@pytest.mark.parametrize(
    ("inp", "expected"),
    [
        ({"prompt": "x"}, "- input: image is required"),
        ({"image": PHOTO, "prompt": "x", "num_outputs": 9}, "- input.num_outputs: Must be less than or equal to 8"),
        ({"image": PHOTO, "scheduler": "KLMS"},
         '- input.scheduler: scheduler must be one of the following: "DDIM", "K_EULER", "DPMSolverMultistep"'),
        ({"image": PHOTO, "width": 500}, "- input.width: width must be one of the following: 128, 256, 384"),
        ({"image": PHOTO, "prompt": "x", "guidance_scale": 0.5}, "- input.guidance_scale: Must be greater than or equal to 1"),
        ({"image": PHOTO, "prompt": "x", "num_inference_steps": 0}, "- input.num_inference_steps: Must be greater"),
    ],
)
def test_invalid_sd_input_is_422(client, inp, expected):
    with pytest.raises(ReplicateError) as err:
        client.predictions.create(version=SD_IMG2IMG_VERSION, input=inp)
    assert err.value.status == 422
    assert expected in err.value.detail


def test_sd_prompt_is_optional_and_prompt_strength_fails_at_run_time(server, client):
    # The published schema gives prompt a default and prompt_strength no bounds: the API takes
    # 1.5 and the model (diffusers) refuses it when it runs.
    ok = client.predictions.create(version=SD_IMG2IMG_VERSION, input={"image": PHOTO})
    bad = client.predictions.create(version=SD_IMG2IMG_VERSION, input={"image": PHOTO, "prompt_strength": 1.5})
    ok.wait()
    bad.wait()
    assert ok.status == "succeeded"
    assert bad.status == "failed" and "strength should in [0.0, 1.0] but is 1.5" in bad.error


@pytest.mark.parametrize("model", ["acme/unknown-model", "stability-ai/stable-diffusion", SD_IMG2IMG])
def test_unknown_or_community_model_by_name_is_404(server, client, model):
    with pytest.raises(ReplicateError) as err:
        client.predictions.create(model=model, input={"prompt": "x", "image": PHOTO})
    assert err.value.status == 404
    assert "could not be found" in err.value.detail
    if model.startswith("stability-ai/"):
        assert "version" in err.value.detail
    assert server.creates == []


def test_unknown_version_is_422(server, client):
    with pytest.raises(ReplicateError) as err:
        client.predictions.create(version="0" * 64, input={"prompt": "x"})
    assert err.value.status == 422
    assert err.value.title == "Invalid version or not permitted"


def test_create_error_rate(server, client):
    server.create_error_rate = 1.0
    for _ in range(4):
        with pytest.raises(ReplicateError) as err:
            client.predictions.create(model=NANO, input={"prompt": "x"})
        assert err.value.status in (500, 503)
    assert server.create_errors == 4 and server.creates == []


# ----------------------------------------------------------------------------- published schemas

SNAPSHOTS = Path(__file__).resolve().parent.parent / "app" / "providers" / "schemas"
PROVIDER_MODELS = {"NANO_BANANA": NANO, "FLUX_KONTEXT": KONTEXT, "FLUX_PRO": FLUX_PRO, "STABLE_DIFFUSION": SD_IMG2IMG}


def create_raw(http, model, inp):
    if model == SD_IMG2IMG:
        return http.post("/v1/predictions", json={"version": SD_IMG2IMG_VERSION, "input": {"image": PHOTO, **inp}})
    return http.post(f"/v1/models/{model}/predictions", json={"input": {"prompt": "x", **inp}})


@pytest.mark.parametrize("model", [NANO, KONTEXT, FLUX_PRO, SD_IMG2IMG])
def test_every_enum_value_is_accepted(server, model):
    props = server.resolved_input_schema(model)["properties"]
    cases = [(name, value) for name, prop in props.items() for value in prop.get("enum", [])]
    assert len(cases) >= 13
    with httpx.Client(base_url=server.url, headers=auth(server)) as http:
        for name, value in cases:
            resp = create_raw(http, model, {name: value})
            assert resp.status_code == 201, (name, value, resp.text)
    assert len(server.creates) == len(cases)


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (FLUX_PRO, "aspect_ratio", "21:9"),
        (FLUX_PRO, "aspect_ratio", "9:21"),
        (FLUX_PRO, "aspect_ratio", "match_input_image"),
        (NANO, "aspect_ratio", "9:21"),
        (KONTEXT, "aspect_ratio", "3:1"),
        (KONTEXT, "output_format", "webp"),
        (SD_IMG2IMG, "scheduler", "K_EULER_ANCESTRAL"),
        (SD_IMG2IMG, "height", 1000),
    ],
)
def test_value_outside_the_enum_is_422_naming_the_field(server, model, field, value):
    with httpx.Client(base_url=server.url, headers=auth(server)) as http:
        resp = create_raw(http, model, {field: value})
    assert resp.status_code == 422
    body = resp.json()
    assert body["detail"].startswith(f"- input.{field}: {field} must be one of the following: ")
    assert body["invalid_fields"] == [{"type": "enum", "field": f"input.{field}",
                                       "description": body["detail"][len(f"- input.{field}: "):-1]}]
    assert server.creates == []


@pytest.mark.parametrize("raw", [
    b'{"input": {"prompt": "x", "seed": NaN}}',
    b'{"input": {"prompt": "x", "safety_tolerance": Infinity}}',
    b'{"input": {"prompt": "x", "output_quality": -Infinity}}',
])
def test_nan_and_infinity_are_refused(server, raw):
    resp = httpx.post(f"{server.url}/v1/models/{FLUX_PRO}/predictions", content=raw,
                      headers={**auth(server), "Content-Type": "application/json"})
    assert resp.status_code == 400
    assert "not valid JSON" in resp.json()["detail"]
    assert server.creates == []


def test_nan_from_the_real_client_never_leaves_it(server, client):
    # The httpx under client 1.0.7 encodes JSON with allow_nan=False: a ValueError (not a
    # ReplicateError) before any request. Other senders get the 400 above.
    with pytest.raises(ValueError, match="not JSON compliant"):
        client.predictions.create(model=FLUX_PRO, input={"prompt": "x", "seed": float("nan")})
    assert server.call_counts()["api_calls"] == 0


def test_unknown_input_keys_are_ignored_and_recorded(server, client):
    # Replicate validates against the model's schema, which allows extra keys; the model
    # never sees them. The fake answers 201 too and notes them in the create record.
    prediction = client.predictions.create(model=NANO, input={"prompt": "x", "image_inputs": [PHOTO], "n": 2})
    assert prediction.status == "starting"
    assert server.creates[0]["ignored_inputs"] == ["image_inputs", "n"]


def test_nullable_inputs_take_null(server, client):
    prediction = client.predictions.create(model=FLUX_PRO, input={"prompt": "x", "seed": None, "image_prompt": None})
    assert prediction.status == "starting"
    with pytest.raises(ReplicateError) as err:
        client.predictions.create(model=FLUX_PRO, input={"prompt": "x", "safety_tolerance": None})
    assert "- input.safety_tolerance: Invalid type. Expected: integer, given: null" in err.value.detail


def test_models_get_has_the_real_shape_and_is_a_read(server, client):
    server.read_limit_per_minute = 600
    model = client.models.get(NANO)
    assert (model.owner, model.name, model.url) == ("google", "nano-banana", "https://replicate.com/google/nano-banana")
    schemas = model.latest_version.openapi_schema["components"]["schemas"]
    assert schemas["Input"]["required"] == ["prompt"]
    assert schemas["Output"] == {"type": "string", "title": "Output", "format": "uri"}
    raw = httpx.get(f"{server.url}/v1/models/{NANO}", headers=auth(server)).json()
    assert set(raw) == {"url", "owner", "name", "description", "visibility", "github_url", "paper_url",
                        "license_url", "run_count", "cover_image_url", "default_example", "latest_version"}
    assert set(raw["latest_version"]) == {"id", "created_at", "cog_version", "openapi_schema"}
    version = client.models.get(SD_IMG2IMG).versions.get(SD_IMG2IMG_VERSION_ALIAS)
    assert version.id == SD_IMG2IMG_VERSION_ALIAS
    assert version.openapi_schema["components"]["schemas"]["Output"]["type"] == "array"
    listed = httpx.get(f"{server.url}/v1/models/{SD_IMG2IMG}/versions", headers=auth(server)).json()
    assert [v["id"] for v in listed["results"]] == [SD_IMG2IMG_VERSION, SD_IMG2IMG_VERSION_ALIAS]
    with pytest.raises(ReplicateError) as err:
        client.models.get("acme/unknown-model")
    assert err.value.status == 404
    assert server.call_counts()["reads_by_endpoint"] == {
        "models.get": 4, "models.versions.get": 1, "models.versions.list": 1}


@pytest.mark.parametrize("provider", sorted(PROVIDER_MODELS))
def test_app_snapshots_match_the_servers_copy(server, provider):
    snapshot = json.loads((SNAPSHOTS / f"{provider}.json").read_text())
    model = PROVIDER_MODELS[provider]
    latest = server.model_version(model)
    assert snapshot["model"] == model and snapshot["version"] == latest["id"]
    assert snapshot["input_schema"] == server.resolved_input_schema(model)
    assert snapshot["source"].startswith(f"https://replicate.com/{model}/")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", snapshot["retrieved"])
    own = json.loads((SCHEMAS / f"{model.replace('/', '__')}.json").read_text())
    assert (own["source"], own["retrieved"]) == (snapshot["source"], snapshot["retrieved"])


def test_known_facts_of_the_published_schemas(server):
    def enum(model, field):
        return server.resolved_input_schema(model)["properties"][field]["enum"]

    assert "21:9" not in enum(FLUX_PRO, "aspect_ratio") and "9:21" not in enum(FLUX_PRO, "aspect_ratio")
    assert "9:21" not in enum(NANO, "aspect_ratio") and "21:9" in enum(NANO, "aspect_ratio")
    assert {"21:9", "9:21", "match_input_image"} <= set(enum(KONTEXT, "aspect_ratio"))
    assert enum(SD_IMG2IMG, "scheduler") == ["DDIM", "K_EULER", "DPMSolverMultistep"]
    assert server.resolved_input_schema(SD_IMG2IMG)["required"] == ["image"]


def test_changing_the_servers_schema_changes_what_it_accepts(server, client):
    # enum behind cog's allOf/$ref
    server.model_version(NANO)["openapi_schema"]["components"]["schemas"]["aspect_ratio"]["enum"].remove("21:9")
    # inline enum
    server.input_schema(FLUX_PRO)["properties"]["aspect_ratio"]["enum"].remove("16:9")
    for model in (NANO, FLUX_PRO):
        ratio = "21:9" if model == NANO else "16:9"
        with pytest.raises(ReplicateError) as err:
            client.predictions.create(model=model, input={"prompt": "x", "aspect_ratio": ratio})
        assert err.value.status == 422 and "input.aspect_ratio" in err.value.detail
    new_id = server.publish_version(SD_IMG2IMG)
    server.input_schema(SD_IMG2IMG, new_id)["required"] = ["image", "prompt"]
    assert client.models.get(SD_IMG2IMG).latest_version.id == new_id
    with pytest.raises(ReplicateError) as err:
        client.predictions.create(version=new_id, input={"image": PHOTO})
    assert "- input: prompt is required" in err.value.detail
    assert client.predictions.create(version=SD_IMG2IMG_VERSION, input={"image": PHOTO}).status == "starting"
    fresh = ReplicateServer()  # other servers keep the published copy
    assert "16:9" in fresh.resolved_input_schema(FLUX_PRO)["properties"]["aspect_ratio"]["enum"]


# ----------------------------------------------------------------------------- throttling


def test_throttled_create_raises_429_at_once(server, client):
    server.throttle_rate = 1.0
    server.retry_after = 3
    t0 = time.monotonic()
    with pytest.raises(ReplicateError) as err:
        client.predictions.create(model=NANO, input={"prompt": "x"})
    assert time.monotonic() - t0 < 1.0  # POST is not retried by the client
    assert err.value.status == 429
    assert "Request was throttled" in err.value.detail
    assert server.throttled == 1 and server.creates == []

    resp = httpx.post(f"{server.url}/v1/models/{NANO}/predictions", headers=auth(server),
                      json={"input": {"prompt": "x"}})
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "3"
    assert resp.json() == {"detail": "Request was throttled. Your rate limit resets in ~3s.", "status": 429}

    server.retry_after = 0.5
    resp = httpx.post(f"{server.url}/v1/predictions", headers=auth(server),
                      json={"version": SD_IMG2IMG_VERSION, "input": {"image": PHOTO, "prompt": "x"}})
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "0.5"
    assert server.throttled == 3


def test_rate_limit_per_minute(server, client):
    server.rate_limit_per_minute = 3
    outcomes = []
    for _ in range(5):
        resp = httpx.post(f"{server.url}/v1/models/{NANO}/predictions", headers=auth(server),
                          json={"input": {"prompt": "x"}})
        outcomes.append(resp.status_code)
        if resp.status_code == 429:
            assert 59 <= int(resp.headers["Retry-After"]) <= 60
    assert outcomes == [201, 201, 201, 429, 429]
    assert len(server.creates) == 3 and server.throttled == 2
    assert server.busiest_window() == 3
    with pytest.raises(ReplicateError) as err:
        client.predictions.create(model=NANO, input={"prompt": "x"})
    assert err.value.status == 429


def test_rate_limit_window_slides(server):
    server.rate_limit_per_minute = 2
    server.rate_window = 0.3
    url = f"/v1/models/{NANO}/predictions"
    with httpx.Client(base_url=server.url, headers=auth(server)) as http:
        codes = [http.post(url, json={"input": {"prompt": "x"}}).status_code for _ in range(3)]
        assert codes == [201, 201, 429]
        time.sleep(0.35)
        assert http.post(url, json={"input": {"prompt": "x"}}).status_code == 201
    assert server.busiest_window(0.3) == 2
    assert server.busiest_window(10) == 3


def test_busiest_window_counts_sliding_windows(server):
    server.creates.extend({"time": t} for t in [0.0, 10.0, 50.0, 59.0, 61.0, 65.0, 200.0])
    assert server.busiest_window(60.0) == 5   # 10, 50, 59, 61, 65
    assert server.busiest_window(5.0) == 2
    assert server.busiest_window(1.0) == 1
    assert len(server.creates_for(lambda c: c["time"] > 55)) == 4


# ----------------------------------------------------------------------------- account limits (token buckets)


def create_url(model=NANO) -> str:
    return f"/v1/models/{model}/predictions"


def test_create_bucket_allows_a_burst_then_429_with_the_time_to_the_next_token(server, client):
    server.create_limit_per_minute = 6  # one token every 10 s
    server.create_burst = 2
    with httpx.Client(base_url=server.url, headers=auth(server)) as http:
        codes = [http.post(create_url(), json={"input": {"prompt": "x"}}).status_code for _ in range(2)]
        resp = http.post(create_url(), json={"input": {"prompt": "x"}})
    assert codes == [201, 201]
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "10"
    assert resp.json() == {"detail": "Request was throttled. Your rate limit resets in ~10s.", "status": 429}
    t0 = time.monotonic()
    with pytest.raises(ReplicateError) as err:
        client.predictions.create(model=NANO, input={"prompt": "x"})
    assert time.monotonic() - t0 < 1.0  # the client does not retry a POST
    assert err.value.status == 429 and "resets in ~10s" in err.value.detail
    counts = server.call_counts()
    assert (counts["creates"], counts["create_calls"], counts["create_429s"]) == (2, 4, 2)
    assert counts["reads"] == 0 and counts["read_429s"] == 0
    assert server.throttled == 2 and len(server.call_times("create", throttled=True)) == 2


def test_create_bucket_refills_at_the_steady_rate(server):
    server.create_limit_per_minute = 600  # 10 a second
    server.create_burst = 1
    with httpx.Client(base_url=server.url, headers=auth(server)) as http:
        first = http.post(create_url(), json={"input": {"prompt": "x"}})
        second = http.post(create_url(), json={"input": {"prompt": "x"}})
        time.sleep(0.12)
        third = http.post(create_url(), json={"input": {"prompt": "x"}})
    assert (first.status_code, second.status_code, third.status_code) == (201, 429, 201)
    assert second.headers["Retry-After"] == "1"  # 0.1 s rounds up to the 1 s minimum
    assert "resets in ~1s" in second.json()["detail"]


def test_read_bucket_429_is_retried_by_the_client_after_retry_after(server, client):
    prediction = client.predictions.create(model=NANO, input={"prompt": "x"})
    server.read_limit_per_minute = 60  # one read a second
    server.read_burst = 2
    with httpx.Client(base_url=server.url, headers=auth(server)) as http:
        resps = [http.get(f"/v1/predictions/{prediction.id}") for _ in range(3)]
    assert [r.status_code for r in resps] == [200, 200, 429]
    assert resps[2].headers["Retry-After"] == "1"
    assert resps[2].json() == {"detail": "Request was throttled. Your rate limit resets in ~1s.", "status": 429}
    t0 = time.monotonic()
    got = client.predictions.get(prediction.id)  # GET: the client sleeps Retry-After and retries
    assert got.id == prediction.id
    assert 0.5 < time.monotonic() - t0 < 3.0
    counts = server.call_counts()
    assert counts["read_429s"] == 2 and counts["reads_by_endpoint"] == {"predictions.get": 3}
    assert counts["create_429s"] == 0 and counts["creates"] == 1
    assert server.gets == 3  # admitted GETs only


def test_every_call_but_create_is_a_read_and_files_are_not_api_calls(server, client):
    done = client.models.predictions.create(model=NANO, input={"prompt": "x"}, wait=5)
    server.read_limit_per_minute = 60
    server.read_burst = 3
    client.predictions.list()
    client.predictions.cancel(done.id)
    client.predictions.get(done.id)
    with httpx.Client() as http:
        assert [http.get(done.output).status_code for _ in range(5)] == [200] * 5
        resp = http.get(f"{server.url}/v1/predictions", headers=auth(server))
    assert resp.status_code == 429
    counts = server.call_counts()
    assert counts["reads_by_endpoint"] == {"predictions.list": 1, "predictions.cancel": 1, "predictions.get": 1}
    assert counts["read_429s_by_endpoint"] == {"predictions.list": 1}
    assert counts["downloads"] == 5 and counts["api_calls"] == 5  # 1 create + 3 reads + one 429


def test_read_storm_answers_429_to_every_read_until_it_ends(server, client):
    prediction = client.predictions.create(model=NANO, input={"prompt": "x"})
    server.throttle_reads_for(0.8)
    with httpx.Client(base_url=server.url, headers=auth(server)) as http:
        get = http.get(f"/v1/predictions/{prediction.id}")
        listed = http.get("/v1/predictions")
        cancel = http.post(f"/v1/predictions/{prediction.id}/cancel")
        created = http.post(create_url(), json={"input": {"prompt": "y"}})
    assert [get.status_code, listed.status_code, cancel.status_code] == [429, 429, 429]
    assert get.headers["Retry-After"] == "1" and "resets in ~1s" in get.json()["detail"]
    assert created.status_code == 201  # creates have their own limit
    t0 = time.monotonic()
    assert client.predictions.get(prediction.id).id == prediction.id  # retried past the storm
    assert 0.3 < time.monotonic() - t0 < 3.0
    assert server.read_throttled >= 4 and server.cancels == []
    storm = server.call_times("read", throttled=True)
    assert max(storm) - min(storm) < 0.8


def test_create_storm(server):
    server.throttle_creates_for(0.3)
    with httpx.Client(base_url=server.url, headers=auth(server)) as http:
        assert http.post(create_url(), json={"input": {"prompt": "x"}}).status_code == 429
        time.sleep(0.35)
        assert http.post(create_url(), json={"input": {"prompt": "x"}}).status_code == 201
    assert server.throttled == 1


def test_download_delays_from_end_to_first_fetch(server, client):
    server.latency = 0.05
    first, second, never = (client.predictions.create(model=NANO, input={"prompt": str(i)}) for i in range(3))
    time.sleep(0.3)
    for p in (first, second, never):
        p.reload()
        assert p.status == "succeeded"
    with httpx.Client() as http:
        assert http.get(first.output).status_code == 200
        assert http.head(never.output).status_code == 200  # HEAD is not a download
        time.sleep(0.2)
        assert http.get(second.output).status_code == 200
        assert http.get(first.output).status_code == 200  # only the first fetch counts
    delays = server.download_delays()
    assert len(delays) == 2
    assert 0.15 < delays[0] < 0.6
    assert delays[1] - delays[0] > 0.15
    assert server.never_downloaded() == [never.id]
    assert percentile(delays, 95) == delays[1] and percentile(delays, 50) == delays[0]
    assert percentile([], 95) is None


# ----------------------------------------------------------------------------- outcomes


def test_cancel(server, client):
    server.latency = 5.0
    prediction = client.predictions.create(model=NANO, input={"prompt": "x"})
    prediction.cancel()
    assert prediction.status == "canceled" and prediction.completed_at is not None
    assert server.cancels == [prediction.id]
    time.sleep(0.06)
    prediction.reload()
    assert prediction.status == "canceled" and prediction.output is None

    server.latency = 0.0
    done = client.predictions.create(model=NANO, input={"prompt": "y"})
    assert client.predictions.get(done.id).status == "succeeded"
    assert client.predictions.cancel(done.id).status == "succeeded"
    assert server.cancels == [prediction.id, done.id]


def test_fail_rate_one_fails_every_prediction(server, client):
    server.fail_rate = 1.0
    prediction = client.predictions.create(model=FLUX_PRO, input={"prompt": "x"})
    prediction.wait()
    assert prediction.status == "failed"
    assert prediction.error == FAILURE_ERROR
    assert prediction.output is None
    with pytest.raises(replicate.exceptions.ModelError):
        client.run(FLUX_PRO, input={"prompt": "x"})


def test_fail_when_targets_specific_inputs(server, client):
    server.fail_when = lambda model, inp: "male_03" in repr(inp)
    bad = client.predictions.create(model=NANO, input={"prompt": "x", "image_input": [PHOTO]})
    good = client.predictions.create(model=NANO, input={"prompt": "x", "image_input": [PHOTO.replace("male_03", "f_01")]})
    bad.wait()
    good.wait()
    assert (bad.status, good.status) == ("failed", "succeeded")


def test_abort_makes_client_raise_pydantic_v1_validation_error(server, client):
    server.abort_rate = 1.0
    prediction = client.predictions.create(model=NANO, input={"prompt": "x"})
    raw = httpx.get(f"{server.url}/v1/predictions/{prediction.id}", headers=auth(server)).json()
    assert raw["status"] == "aborted" and raw["output"] is None
    with pytest.raises(pydantic_v1.ValidationError) as err:
        prediction.reload()
    assert isinstance(err.value, ValueError)


def test_seeded_runs_repeat(client):
    def run(seed):
        with ReplicateServer(seed=seed) as srv:
            srv.fail_rate, srv.jitter, srv.latency = 0.5, 0.05, 0.1
            c = replicate.Client(api_token=srv.token, base_url=srv.url)
            ids = [c.predictions.create(model=NANO, input={"prompt": str(i)}).id for i in range(8)]
            time.sleep(0.2)
            return ids, [(p["status"], p["metrics"]["total_time"]) for p in srv.predictions()]

    first, second, other = run(7), run(7), run(8)
    assert first == second
    assert first != other
    assert {s for s, _ in first[1]} == {"succeeded", "failed"}


def test_reset_clears_records_and_faults(server, client):
    server.latency = 0.25
    server.fail_rate = 1.0
    server.rate_limit_per_minute = 1
    client.predictions.create(model=NANO, input={"prompt": "x"})
    with pytest.raises(ReplicateError):
        client.predictions.create(model=NANO, input={"prompt": "x"})
    server.reset()
    assert (server.creates, server.throttled, server.predictions()) == ([], 0, [])
    assert server.fail_rate == 0 and server.rate_limit_per_minute is None
    assert server.latency == 0.25 and server.token == DEFAULT_TOKEN
    prediction = client.predictions.create(model=NANO, input={"prompt": "x"})
    prediction.wait()
    assert prediction.status == "succeeded"


# ----------------------------------------------------------------------------- downloads


def test_downloads_are_real_distinct_images(server, client):
    outputs = {}
    for model, inp in VALID_INPUT.items():
        p = client.models.predictions.create(model=model, input=inp, wait=5)
        outputs[model] = p.output
    fmt = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}
    ctype = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
    pixels = set()
    for model, url in outputs.items():
        ext = VALID_INPUT[model]["output_format"]
        resp, img = fetch_image(url)  # no Authorization: like the CDN
        assert img.format == fmt[ext]
        assert resp.headers["content-type"] == ctype[ext]
        assert 1_000 < len(resp.content) < 20_000
        pixels.add(img.tobytes())
    assert len(pixels) == 3
    assert server.downloads == 3 and server.download_failures == 0


@pytest.mark.parametrize("ext", ["png", "jpg", "webp"])
def test_output_bytes_is_respected(server, client, ext):
    server.output_bytes = 2_000_000
    p = client.models.predictions.create(model=FLUX_PRO, input={"prompt": "big", "output_format": ext}, wait=5)
    resp, img = fetch_image(p.output)
    assert abs(len(resp.content) - 2_000_000) <= 8
    assert int(resp.headers["content-length"]) == len(resp.content)
    assert img.size[0] > 0


def test_output_not_ready_is_404(server, client):
    server.latency = 5.0
    p = client.predictions.create(model=NANO, input={"prompt": "x"})
    assert httpx.get(f"{server.url}/files/{p.id}/out-0.jpg").status_code == 404
    assert httpx.get(f"{server.url}/files/nope/out-0.jpg").status_code == 404


def test_download_faults(server, client):
    p = client.models.predictions.create(model=NANO, input={"prompt": "x"}, wait=5)
    server.download_error_rate = 1.0
    assert httpx.get(p.output).status_code == 503
    server.download_error_rate = 0.0
    server.download_404_rate = 1.0
    assert httpx.get(p.output).status_code == 404
    server.download_404_rate = 0.0
    assert httpx.get(p.output).status_code == 200
    assert server.download_failures == 2 and server.downloads == 1


def test_download_fault_rates_are_proportional(server, client):
    p = client.models.predictions.create(model=NANO, input={"prompt": "x"}, wait=5)
    server.download_error_rate = 0.5
    with httpx.Client() as http:
        codes = [http.get(p.output).status_code for _ in range(200)]
    assert 60 < codes.count(503) < 140
    assert codes.count(200) + codes.count(503) == 200


def test_expire_outputs(server, client):
    p = client.models.predictions.create(model=NANO, input={"prompt": "x"}, wait=5)
    assert httpx.get(p.output).status_code == 200
    assert server.expire_outputs() == 1
    assert httpx.get(p.output).status_code == 404
    p.reload()
    assert p.status == "succeeded"
    raw = httpx.get(p.urls["get"], headers=auth(server)).json()
    assert raw["data_removed"] is True
    fresh = client.models.predictions.create(model=NANO, input={"prompt": "y"}, wait=5)
    assert httpx.get(fresh.output).status_code == 200


# ----------------------------------------------------------------------------- load, CLI


def test_concurrent_creates_and_polls(server):
    server.latency = 0.05
    errors, ids = [], []
    lock = threading.Lock()

    def worker():
        try:
            c = replicate.Client(api_token=server.token, base_url=server.url)
            c.poll_interval = 0.02
            for _ in range(4):
                p = c.predictions.create(model=NANO, input={"prompt": "x"})
                p.wait()
                assert p.status == "succeeded"
                with lock:
                    ids.append(p.id)
        except Exception as exc:  # noqa: BLE001
            with lock:
                errors.append(repr(exc))

    threads = [threading.Thread(target=worker) for _ in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(ids) == 240 and len(set(ids)) == 240
    assert len(server.creates) == 240
    assert server.server_errors == []


def test_keep_alive_reuses_one_connection(server):
    with httpx.Client(base_url=server.url, headers=auth(server)) as http:
        created = http.post(f"/v1/models/{NANO}/predictions", json={"input": {"prompt": "x"}}).json()
        ports = set()
        for _ in range(5):
            resp = http.get(f"/v1/predictions/{created['id']}")
            assert resp.status_code == 200
            stream = resp.extensions["network_stream"]
            ports.add(stream.get_extra_info("client_addr")[1])
    assert len(ports) == 1


def test_cli_runs_standalone():
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.replicate_server", "--port", "0", "--latency", "0"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        c = replicate.Client(api_token=DEFAULT_TOKEN, base_url=url)
        assert c.predictions.create(model=NANO, input={"prompt": "x"}).status == "starting"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0


def test_cli_limit_flags():
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.replicate_server", "--port", "0", "--create-limit", "6",
         "--create-burst", "1", "--read-limit", "60", "--read-burst", "1"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        url = proc.stdout.readline().strip()
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        with httpx.Client(base_url=url, headers=headers) as http:
            codes = [http.post(create_url(), json={"input": {"prompt": "x"}}).status_code for _ in range(2)]
            reads = [http.get("/v1/predictions").status_code for _ in range(2)]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert codes == [201, 429] and reads == [200, 429]
    assert "create_429s=1" in err and "read_429s=1" in err
