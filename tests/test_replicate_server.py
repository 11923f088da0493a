"""Tests of the fake Replicate server, driven through the real ``replicate`` 1.0.7 client."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import replicate
from PIL import Image
from pydantic import v1 as pydantic_v1
from replicate.exceptions import ReplicateError
from replicate.webhook import (
    InvalidSignatureError,
    InvalidTimestampError,
    MissingWebhookHeaderError,
    WebhookSigningSecret,
)

from tests.helpers import wait_until
from tests.replicate_server import (
    DEFAULT_TOKEN,
    FAILURE_ERROR,
    SD_IMG2IMG,
    SD_IMG2IMG_VERSION,
    SD_IMG2IMG_VERSION_ALIAS,
    ReplicateServer,
    parse_duration,
    percentile,
)

NANO = "google/nano-banana"
KONTEXT = "black-forest-labs/flux-kontext-pro"
FLUX_PRO = "black-forest-labs/flux-1.1-pro"
PHOTO = "https://example.test/ref/male_03.jpg"

VALID_INPUT = {
    NANO: {"prompt": "a portrait", "image_input": [PHOTO], "output_format": "png", "aspect_ratio": "match_input_image"},
    KONTEXT: {
        "prompt": "a portrait",
        "input_image": PHOTO,
        "aspect_ratio": "match_input_image",
        "output_format": "jpg",
        "safety_tolerance": 2,
        "seed": 7,
    },
    FLUX_PRO: {
        "prompt": "a portrait",
        "image_prompt": PHOTO,
        "aspect_ratio": "1:1",
        "output_format": "webp",
        "safety_tolerance": 6,
        "prompt_upsampling": True,
        "seed": 1,
    },
}
SD_INPUT = {
    "image": PHOTO,
    "prompt": "a portrait",
    "negative_prompt": "blurry",
    "prompt_strength": 0.8,
    "num_outputs": 3,
    "num_inference_steps": 25,
    "guidance_scale": 7.5,
    "scheduler": "K_EULER",
    "seed": 3,
}
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
    resp = httpx.post(
        f"{server.url}/v1/models/{NANO}/predictions", headers=auth(server), json={"input": {"prompt": "x"}}
    )
    assert resp.status_code == 201
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert set(body) >= {
        "id",
        "model",
        "version",
        "input",
        "logs",
        "output",
        "error",
        "status",
        "created_at",
        "started_at",
        "completed_at",
        "data_removed",
        "source",
        "urls",
        "metrics",
    }
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
    resp = httpx.post(
        f"{server.url}/v1/models/{NANO}/predictions",
        headers={**auth(server), "Prefer": "wait=0.3"},
        json={"input": {"prompt": "x"}},
    )
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
    prediction = client.predictions.create(
        version=f"{SD_IMG2IMG}:{SD_IMG2IMG_VERSION}", input={"image": PHOTO, "prompt": "x"}
    )
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
    wait_until(lambda: prediction.reload() or prediction.status != "starting", timeout=2.5)
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
    wait_until(lambda: all(p["status"] == "succeeded" for p in server.predictions()), timeout=5)
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


def test_list_predictions_pages_by_cursor_newest_first_and_stable_under_new_creates(server, client):
    ids = [client.predictions.create(model=NANO, input={"prompt": str(i)}).id for i in range(230)]
    first = client.predictions.list()
    assert [p.id for p in first.results] == ids[::-1][:100]
    late = client.predictions.create(model=NANO, input={"prompt": "late"}).id  # must not shift the pages
    second = client.predictions.list(first.next)
    third = client.predictions.list(second.next)
    assert [p.id for p in second.results] == ids[::-1][100:200]
    assert [p.id for p in third.results] == ids[::-1][200:]
    assert third.next is None
    assert client.predictions.list().results[0].id == late
    assert first.results[0].output is None or first.results[0].status == "succeeded"  # full prediction objects
    with pytest.raises(ReplicateError) as err:
        client.predictions.list(f"{server.url}/v1/predictions?cursor=bm9wZQ")
    assert err.value.status == 400


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
    assert resp.json() == {
        "title": "Unauthenticated",
        "detail": "You did not pass a valid authentication token",
        "status": 401,
    }


@pytest.mark.parametrize(
    ("model", "inp", "expected"),
    [
        (NANO, {}, "- input: prompt is required"),
        (
            NANO,
            {"prompt": "x", "image_input": PHOTO},
            "- input.image_input: Invalid type. Expected: array, given: string",
        ),
        (NANO, {"prompt": "x", "image_input": ["not a url"]}, "- input.image_input.0: Does not match format 'uri'"),
        (NANO, {"prompt": "x", "output_format": "webp"}, "- input.output_format: output_format must be one of"),
        (
            KONTEXT,
            {"prompt": "x", "input_image": PHOTO, "safety_tolerance": 5},
            "- input.safety_tolerance: Must be less than or equal to 2",
        ),
        (KONTEXT, {"prompt": "x", "safety_tolerance": 7}, "- input.safety_tolerance: Must be less than or equal to 6"),
        (KONTEXT, {"prompt": "x", "seed": "1"}, "- input.seed: Invalid type. Expected: integer, given: string"),
        (
            FLUX_PRO,
            {"prompt": "x", "safety_tolerance": 0},
            "- input.safety_tolerance: Must be greater than or equal to 1",
        ),
        (
            FLUX_PRO,
            {"prompt": "x", "aspect_ratio": "match_input_image"},
            "- input.aspect_ratio: aspect_ratio must be one of",
        ),
        (
            FLUX_PRO,
            {"prompt": "x", "prompt_upsampling": "yes"},
            "- input.prompt_upsampling: Invalid type. Expected: boolean",
        ),
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
        (
            {"image": PHOTO, "scheduler": "KLMS"},
            '- input.scheduler: scheduler must be one of the following: "DDIM", "K_EULER", "DPMSolverMultistep"',
        ),
        ({"image": PHOTO, "width": 500}, "- input.width: width must be one of the following: 128, 256, 384"),
        (
            {"image": PHOTO, "prompt": "x", "guidance_scale": 0.5},
            "- input.guidance_scale: Must be greater than or equal to 1",
        ),
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
    assert body["invalid_fields"] == [
        {"type": "enum", "field": f"input.{field}", "description": body["detail"][len(f"- input.{field}: ") : -1]}
    ]
    assert server.creates == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"input": {"prompt": "x", "seed": NaN}}',
        b'{"input": {"prompt": "x", "safety_tolerance": Infinity}}',
        b'{"input": {"prompt": "x", "output_quality": -Infinity}}',
    ],
)
def test_nan_and_infinity_are_refused(server, raw):
    resp = httpx.post(
        f"{server.url}/v1/models/{FLUX_PRO}/predictions",
        content=raw,
        headers={**auth(server), "Content-Type": "application/json"},
    )
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
    assert set(raw) == {
        "url",
        "owner",
        "name",
        "description",
        "visibility",
        "github_url",
        "paper_url",
        "license_url",
        "run_count",
        "cover_image_url",
        "default_example",
        "latest_version",
    }
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
        "models.get": 4,
        "models.versions.get": 1,
        "models.versions.list": 1,
    }


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

    resp = httpx.post(
        f"{server.url}/v1/models/{NANO}/predictions", headers=auth(server), json={"input": {"prompt": "x"}}
    )
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "3"
    assert resp.json() == {"detail": "Request was throttled. Your rate limit resets in ~3s.", "status": 429}

    server.retry_after = 0.5
    resp = httpx.post(
        f"{server.url}/v1/predictions",
        headers=auth(server),
        json={"version": SD_IMG2IMG_VERSION, "input": {"image": PHOTO, "prompt": "x"}},
    )
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "0.5"
    assert server.throttled == 3


def test_rate_limit_per_minute(server, client):
    server.rate_limit_per_minute = 3
    outcomes = []
    for _ in range(5):
        resp = httpx.post(
            f"{server.url}/v1/models/{NANO}/predictions", headers=auth(server), json={"input": {"prompt": "x"}}
        )
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
    assert server.busiest_window(60.0) == 5  # 10, 50, 59, 61, 65
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
    time.sleep(0.3)  # the first download comes ~0.25 s after the end
    for p in (first, second, never):
        assert poll_until_terminal(p)[-1] == "succeeded"
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
    times = {t["id"]: t for t in server.prediction_times()}
    assert times[first.id]["first_download"] - times[first.id]["ended"] == delays[0]
    assert times[never.id]["first_download"] is None and times[never.id]["status"] == "succeeded"


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
    good = client.predictions.create(
        model=NANO, input={"prompt": "x", "image_input": [PHOTO.replace("male_03", "f_01")]}
    )
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
            wait_until(lambda: all(p["status"] in ("succeeded", "failed") for p in srv.predictions()), timeout=5)
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


# ----------------------------------------------------------------------------- webhooks


class Receiver:
    """A local webhook endpoint: records each POST (arrival time, lower-cased headers, body)
    and answers with the scripted status codes, then 200."""

    def __init__(self, codes=()):
        self.requests: list[tuple[float, dict, str]] = []
        self.codes = list(codes)
        self.cond = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                with outer.cond:
                    code = outer.codes.pop(0) if outer.codes else 200
                    outer.requests.append((time.monotonic(), {k.lower(): v for k, v in self.headers.items()}, body))
                    outer.cond.notify_all()
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/replicate?source=test"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[tuple[float, dict, str]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.requests) >= n, timeout), self.requests
            return list(self.requests)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def secret_of(server) -> WebhookSigningSecret:
    return WebhookSigningSecret(key=server.webhook_secret)


def hooked(client, receiver, events=("completed",), prompt="x", model=NANO):
    return client.predictions.create(
        model=model, input={"prompt": prompt}, webhook=receiver.url, webhook_events_filter=list(events)
    )


def recorded(server, n):
    """The server's delivery records once there are ``n`` (it records after the answer)."""
    wait_until(lambda: len(server.webhooks) >= n)
    return server.webhooks


def test_webhook_secret_is_a_read(server, client):
    secret = client.webhooks.default.secret()
    assert secret.key == server.webhook_secret
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]+=*", secret.key)
    assert len(base64.b64decode(secret.key[len("whsec_") :])) == 32
    assert server.call_counts()["reads_by_endpoint"] == {"webhooks.default.secret": 1}
    assert ReplicateServer(seed=5).webhook_secret == ReplicateServer(seed=5).webhook_secret


def test_completed_webhook_is_signed_and_accepted_by_the_client(server, client, receiver):
    server.latency = 0.1
    prediction = hooked(client, receiver)
    [(_, headers, body)] = receiver.wait_for(1)
    secret = client.webhooks.default.secret()
    assert replicate.webhooks.validate(headers=headers, body=body, secret=secret, tolerance=60) is None
    with pytest.raises(InvalidSignatureError):
        replicate.webhooks.validate(headers=headers, body=body.replace("succeeded", "failed"), secret=secret)
    payload = json.loads(body)
    assert payload["id"] == prediction.id and payload["status"] == "succeeded"
    assert payload["output"] == f"{server.url}/files/{prediction.id}/out-0.jpg"
    assert headers["webhook-id"].startswith("msg_") and headers["webhook-signature"].startswith("v1,")
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 5
    [sent] = recorded(server, 1)
    assert (sent["event"], sent["status"], sent["attempt"], sent["forged"]) == ("completed", 200, 0, None)
    assert server.creates[0]["webhook"] == receiver.url
    assert server.creates[0]["webhook_events_filter"] == ["completed"]
    time.sleep(0.2)
    assert len(receiver.requests) == 1


def test_default_filter_sends_every_event(server, client, receiver):
    server.latency = 0.3
    prediction = client.predictions.create(model=NANO, input={"prompt": "x"}, webhook=receiver.url)
    requests = receiver.wait_for(4)
    recorded(server, 4)
    by_event = {w["event"]: json.loads(w["body"])["status"] for w in server.webhook_deliveries(prediction.id)}
    assert by_event == {"start": "processing", "logs": "processing", "output": "succeeded", "completed": "succeeded"}
    for _, headers, body in requests:
        replicate.webhooks.validate(headers=headers, body=body, secret=secret_of(server))
    assert len({h["webhook-id"] for _, h, _ in requests}) == 4


def test_webhook_completed_url_gets_only_the_final_event(server, client, receiver):
    server.latency = 0.1
    client.predictions.create(model=NANO, input={"prompt": "x"}, webhook_completed=receiver.url)
    receiver.wait_for(1)
    time.sleep(0.2)
    assert [w["event"] for w in server.webhooks] == ["completed"]


def test_invalid_webhook_fields_are_422(server):
    resp = httpx.post(
        f"{server.url}/v1/models/{NANO}/predictions",
        headers=auth(server),
        json={"input": {"prompt": "x"}, "webhook": "not a url", "webhook_events_filter": ["done"]},
    )
    assert resp.status_code == 422
    assert "- webhook: Does not match format 'uri'" in resp.json()["detail"]
    assert "- webhook_events_filter.0: webhook_events_filter.0 must be one of the following" in resp.json()["detail"]
    assert server.creates == []


def test_final_webhook_is_retried_with_the_same_id_until_2xx(server, client, receiver):
    receiver.codes = [500, 503]
    server.webhook_retry_delays = [0.05, 0.1, 0.1]
    prediction = hooked(client, receiver)
    requests = receiver.wait_for(3)
    assert len({h["webhook-id"] for _, h, _ in requests}) == 1
    for _, headers, body in requests:
        replicate.webhooks.validate(headers=headers, body=body, secret=secret_of(server))
    recorded(server, 3)
    sent = server.webhook_deliveries(prediction.id)
    assert [(w["attempt"], w["status"]) for w in sent] == [(0, 500), (1, 503), (2, 200)]
    assert requests[1][0] - requests[0][0] >= 0.04 and requests[2][0] - requests[1][0] >= 0.09
    time.sleep(0.3)
    assert len(receiver.requests) == 3


def test_unreachable_webhook_is_retried_then_given_up(server, client):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    server.webhook_retry_delays = [0.05, 0.05]
    client.predictions.create(model=NANO, input={"prompt": "x"}, webhook=dead, webhook_events_filter=["completed"])
    wait_until(lambda: len(server.webhooks) == 3)
    time.sleep(0.2)
    assert len(server.webhooks) == 3
    assert all(w["status"] is None and "Connection" in w["error"] for w in server.webhooks)


def test_only_the_final_event_is_retried(server, client, receiver):
    receiver.codes = [500] * 10
    server.latency = 0.1
    server.webhook_retry_delays = [0.05]
    hooked(client, receiver, events=("start", "completed"))
    wait_until(lambda: len(server.webhooks) == 3)
    time.sleep(0.15)
    assert sorted((w["event"], w["attempt"]) for w in server.webhooks) == [
        ("completed", 0),
        ("completed", 1),
        ("start", 0),
    ]


def test_webhook_drop(server, client, receiver):
    server.webhook_drop_rate = 1.0
    prediction = hooked(client, receiver)
    wait_until(lambda: server.webhook_dropped)
    time.sleep(0.2)
    assert receiver.requests == [] and server.webhooks == []
    assert [(d["prediction_id"], d["event"]) for d in server.webhook_dropped] == [(prediction.id, "completed")]


def test_webhook_duplicate_keeps_its_id_and_signature(server, client, receiver):
    server.webhook_duplicate_rate = 1.0
    hooked(client, receiver)
    requests = receiver.wait_for(2)
    assert requests[0][1]["webhook-id"] == requests[1][1]["webhook-id"]
    assert requests[0][2] == requests[1][2]
    for _, headers, body in requests:
        replicate.webhooks.validate(headers=headers, body=body, secret=secret_of(server))
    assert sorted(w["duplicate"] for w in recorded(server, 2)) == [False, True]


def test_webhook_delay(server, client, receiver):
    server.latency = 0.05
    server.webhook_delay = 0.4
    t0 = time.monotonic()
    hooked(client, receiver)
    [(arrived, _, _)] = receiver.wait_for(1)
    assert arrived - t0 >= 0.44


def test_webhook_reorder_delivers_the_earlier_ended_prediction_last(server, client, receiver):
    server.latency_when = lambda model, inp: 0.05 if inp["prompt"] == "first" else 0.2
    server.webhook_reorder_window = 0.4
    first = hooked(client, receiver, prompt="first")
    second = hooked(client, receiver, prompt="second")
    requests = receiver.wait_for(2)
    bodies = [json.loads(body) for _, _, body in requests]
    assert [b["id"] for b in bodies] == [second.id, first.id]
    assert bodies[0]["completed_at"] > bodies[1]["completed_at"]


@pytest.mark.parametrize(
    ("forge", "error"),
    [
        ("bad_signature", InvalidSignatureError),
        ("stale_timestamp", InvalidTimestampError),
        ("missing_id", MissingWebhookHeaderError),
        ("missing_timestamp", MissingWebhookHeaderError),
        ("missing_signature", MissingWebhookHeaderError),
    ],
)
def test_forged_webhooks_are_refused_by_the_client(server, client, receiver, forge, error):
    server.webhook_forge = forge
    hooked(client, receiver)
    [(_, headers, body)] = receiver.wait_for(1)
    with pytest.raises(error):
        replicate.webhooks.validate(headers=headers, body=body, secret=secret_of(server), tolerance=300)
    if forge == "stale_timestamp":  # signed right, only old
        assert int(headers["webhook-timestamp"]) < time.time() - 500
        replicate.webhooks.validate(headers=headers, body=body, secret=secret_of(server))
    assert recorded(server, 1)[0]["forged"] == forge


def test_cancel_sends_the_completed_webhook_once(server, client, receiver):
    server.latency = 0.5
    prediction = hooked(client, receiver)
    prediction.cancel()
    [(_, headers, body)] = receiver.wait_for(1)
    assert json.loads(body)["status"] == "canceled"
    replicate.webhooks.validate(headers=headers, body=body, secret=secret_of(server))
    time.sleep(0.6)
    assert len(receiver.requests) == 1


def test_reset_drops_pending_webhooks(server, client, receiver):
    server.latency = 0.2
    hooked(client, receiver)
    server.reset()
    time.sleep(0.35)
    assert receiver.requests == [] and server.webhooks == []


# ----------------------------------------------------------------------------- Cancel-After


def create_with_cancel_after(server, value, inp=None, **body):
    return httpx.post(
        f"{server.url}/v1/models/{NANO}/predictions",
        headers={**auth(server), "Cancel-After": value},
        json={"input": inp or {"prompt": "x"}, **body},
    )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("1h30m45s", 5445),
        ("90", 90),
        ("7.5", 7.5),
        ("1.5h", 5400),
        ("6000ms", 6),
    ],
)
def test_cancel_after_values(server, value, seconds):
    assert parse_duration(value) == seconds
    assert parse_duration(f" {value} ") == seconds
    resp = create_with_cancel_after(server, value)
    assert resp.status_code == 201
    assert server.creates[0]["cancel_after"] == seconds


@pytest.mark.parametrize("value", ["abc", "5x", "-5s", "", "0", "0s", "10 s", "1h-30m", "s", "3s", "4.9"])
def test_malformed_or_too_short_cancel_after_is_400(server, value):
    resp = create_with_cancel_after(server, value)
    assert resp.status_code == 400
    assert resp.json()["title"] == "Invalid Cancel-After header"
    assert server.creates == []


def test_prediction_not_started_by_its_deadline_is_aborted(server, client, receiver):
    server.cancel_after_min = 0
    server.queue_delay = math.inf  # never starts
    resp = create_with_cancel_after(server, "0.3s", webhook=receiver.url, webhook_events_filter=["completed"])
    pid = resp.json()["id"]
    url = f"{server.url}/v1/predictions/{pid}"
    assert httpx.get(url, headers=auth(server)).json()["status"] == "starting"
    [(_, headers, body)] = receiver.wait_for(1)
    raw = httpx.get(url, headers=auth(server)).json()
    assert raw["status"] == "aborted" and raw["started_at"] is None and raw["completed_at"] is not None
    assert json.loads(body)["status"] == "aborted"
    replicate.webhooks.validate(headers=headers, body=body, secret=secret_of(server))
    with pytest.raises(pydantic_v1.ValidationError):  # client 1.0.7 does not know "aborted"
        client.predictions.get(pid)


def test_prediction_running_past_its_deadline_is_canceled(server, client):
    server.cancel_after_min = 0
    server.latency_when = lambda model, inp: math.inf if inp["prompt"] == "forever" else None
    long = client.predictions.get(create_with_cancel_after(server, "1.5", {"prompt": "forever"}).json()["id"])
    quick = create_with_cancel_after(server, "5s").json()["id"]
    seen = poll_until_terminal(long)
    assert seen[-1] == "canceled" and "processing" in seen, seen  # it ran, then its deadline stopped it
    assert long.started_at is not None and long.output is None
    assert client.predictions.get(quick).status == "succeeded"
    assert [c["cancel_after"] for c in server.creates] == [1.5, 5]


def test_queue_delay_hook_keeps_chosen_predictions_waiting(server, client):
    server.queue_delay_when = lambda model, inp: math.inf if inp["prompt"] == "stuck" else None
    stuck = client.predictions.create(model=NANO, input={"prompt": "stuck"})
    free = client.predictions.create(model=NANO, input={"prompt": "free"})
    assert poll_until_terminal(free)[-1] == "succeeded"
    stuck.reload()
    assert stuck.status == "starting"
    server.queue_delay = 1.5
    late = client.predictions.create(model=NANO, input={"prompt": "late"})
    late.reload()
    assert late.status == "starting"
    assert poll_until_terminal(late)[-1] == "succeeded" and late.started_at is not None


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


def interruptible() -> None:
    """Ctrl-C (SIGINT) stops the server even when the suite was started in the background, which ignores it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def standalone_server(*flags: str) -> Iterator[tuple[str, dict]]:
    """`python -m tests.replicate_server --port 0 FLAGS` in a child process: yields its URL and a dict that gets
    its exit code and stderr once Ctrl-C (SIGINT) has stopped it."""
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.replicate_server", "--port", "0", *flags],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        preexec_fn=interruptible,
    )
    ended: dict = {}
    try:
        yield proc.stdout.readline().strip(), ended
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        ended.update(returncode=proc.returncode, stderr=proc.stderr.read())
        proc.stdout.close()
        proc.stderr.close()


def test_cli_runs_standalone():
    with standalone_server("--latency", "0") as (url, ended):
        assert url.startswith("http://127.0.0.1:")
        c = replicate.Client(api_token=DEFAULT_TOKEN, base_url=url)
        assert c.predictions.create(model=NANO, input={"prompt": "x"}).status == "starting"
    assert ended["returncode"] == 0


def test_cli_limit_flags():
    flags = ("--create-limit", "6", "--create-burst", "1", "--read-limit", "60", "--read-burst", "1")
    with standalone_server(*flags) as (url, ended):
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        with httpx.Client(base_url=url, headers=headers) as http:
            codes = [http.post(create_url(), json={"input": {"prompt": "x"}}).status_code for _ in range(2)]
            reads = [http.get("/v1/predictions").status_code for _ in range(2)]
    assert codes == [201, 429] and reads == [200, 429]
    assert "create_429s=1" in ended["stderr"] and "read_429s=1" in ended["stderr"]
