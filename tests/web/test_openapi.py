"""The API's contract (`app/web/openapi/openapi.yaml`) against the app: the served document is valid OpenAPI 3.1,
names exactly the routes under /api of the URL map, and every operation's answers (successes and errors, walked
in-process against PostgreSQL and Redis) have a documented status, content type and body shape. An answer whose
shape changes fails the walk."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from app.web import preset_json as preset_json_module
from app.web.openapi import document
from app.web.openapi.reference import METHODS
from tests.conftest import API_TOKEN, auth_headers

SPEC_URI = "urn:pixelglow-api"
FEED_TOKEN = "feed-token-for-the-contract-0123"


def openapi_path(rule: str) -> str:
    """A Flask rule in OpenAPI's spelling: /api/admin/jobs/<id:job_id> → /api/admin/jobs/{job_id}."""
    return re.sub(r"<(?:[a-z]+:)?(\w+)>", r"{\1}", rule)


def pointer_part(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


def api_routes(app) -> set[tuple[str, str]]:
    return {
        (method, openapi_path(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def documented_operations(spec: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in METHODS if method in item}


class ContractClient:
    """A test client whose every answer is checked against the contract: a documented status, its content type
    and a body valid against its schema. Records the (method, path, status) it saw."""

    def __init__(self, app, spec: dict):
        self.client = app.test_client()
        self.spec = spec
        self.urls = app.url_map.bind("localhost")
        self.registry = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(spec))
        self.seen: set[tuple[str, str, int]] = set()

    def open(self, method: str, url: str, token: str | None = API_TOKEN, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.client.open(url, method=method, headers=headers, **kwargs)
        self.check(method, url, response)
        return response

    def check(self, method: str, url: str, response) -> None:
        rule, _ = self.urls.match(urlsplit(url).path, method, return_rule=True)
        path = openapi_path(rule.rule)
        operation = self.spec["paths"][path][method.lower()]
        status = str(response.status_code)
        where = f"{method} {path} ({operation['operationId']}) answered {status}"
        assert status in operation["responses"], f"{where}, a status the contract does not list"
        self.seen.add((method, path, response.status_code))
        answer = operation["responses"][status]
        pointer = answer.get("$ref") or f"#/paths/{pointer_part(path)}/{method.lower()}/responses/{status}"
        content = self.resolve(pointer).get("content")
        if not content:
            assert not response.data, f"{where} with a body the contract does not describe"
            return
        assert response.mimetype in content, f"{where} as {response.mimetype}, not {', '.join(content)}"
        schema = {"$ref": f"{SPEC_URI}{pointer}/content/{pointer_part(response.mimetype)}/schema"}
        validator = Draft202012Validator(
            schema, registry=self.registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        errors = [
            f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:300]}"
            for e in validator.iter_errors(response.get_json())
        ]
        assert not errors, f"{where} with a body the contract does not allow: " + "; ".join(errors)

    def resolve(self, pointer: str) -> dict:
        found = self.spec
        for part in pointer.removeprefix("#/").split("/"):
            found = found[part.replace("~1", "/").replace("~0", "~")]
        return found


# -- the walk: every operation, its successes and its usual refusals ----------------------------------------------
def walk_presets(api: ContractClient) -> str:
    created = api.open("POST", "/api/admin/presets", json={"name": "Film Noir", "prompt": "Film noir portrait"})
    assert created.status_code == 201
    preset_id = created.get_json()["id"]
    api.open("POST", "/api/admin/presets", json={"name": "Film Noir", "prompt": "again"})  # 409: the name is taken
    api.open("POST", "/api/admin/presets", json={"name": "", "prompt": "p"})  # 400
    api.open("GET", "/api/admin/presets")
    api.open("GET", "/api/admin/presets", token=None)  # 401
    api.open("GET", f"/api/admin/presets/{preset_id}")
    api.open("GET", "/api/admin/presets/no-such-preset")  # 404
    api.open("PATCH", f"/api/admin/presets/{preset_id}", json={"prompt": "Film noir portrait, hard light"})
    api.open("PATCH", f"/api/admin/presets/{preset_id}", json={"colour": "red"})  # 400
    return preset_id


def walk_jobs(api: ContractClient, app, preset_id: str) -> str:
    """A job kept queued (nothing enqueued), canceled, then its items retried (run inline, offline)."""
    services = app.extensions["pixelglow"]
    enqueue, services.enqueue_job = services.enqueue_job, lambda job_id: None
    url = f"/api/admin/presets/{preset_id}/generate-examples"
    queued = api.open("POST", url, json={"modelIds": ["male_01", "female_01"]})
    assert queued.status_code == 202, queued.get_json()
    first = queued.get_json()["jobId"]
    api.open("POST", url, json={"examplesPerModel": 9})  # 400
    api.open("GET", f"/api/admin/jobs/{first}")
    assert api.open("POST", f"/api/admin/jobs/{first}/cancel").status_code == 202
    services.enqueue_job = enqueue
    retried = api.open("POST", f"/api/admin/jobs/{first}/retry")
    assert retried.status_code == 202, retried.get_json()
    second = retried.get_json()["jobId"]
    assert api.open("GET", f"/api/admin/jobs/{second}").get_json()["status"] == "succeeded"
    api.open("POST", f"/api/admin/jobs/{second}/cancel")  # 409: it has ended
    api.open("POST", f"/api/admin/jobs/{second}/retry")  # 409: nothing failed
    api.open("GET", "/api/admin/jobs/no-such-job")  # 404
    return second


def walk_gallery(api: ContractClient, preset_id: str) -> list[str]:
    base = f"/api/admin/presets/{preset_id}"
    page = api.open("GET", f"{base}/gallery?perPage=10").get_json()
    ids = [item["id"] for item in page["items"]]
    assert len(ids) == 2, page
    api.open("GET", f"{base}/gallery?state=lovely")  # 400
    api.open("POST", f"{base}/gallery/state", json={"ids": ids, "state": "approved"})
    api.open("POST", f"{base}/gallery/state", json={"ids": ["nope"], "state": "approved"})  # 400
    assert api.open("POST", f"{base}/gallery/{ids[1]}/move", json={"after": ids[0]}).status_code == 200
    api.open("POST", f"{base}/gallery/{ids[0]}/state", json={"state": "featured"})
    api.open("POST", f"{base}/gallery/{ids[0]}/move", json={"direction": "earlier"})  # 409: the first already
    api.open("POST", f"{base}/gallery/no-such-example/state", json={"state": "featured"})  # 404
    assert api.open("POST", f"{base}/examples/{ids[1]}/regenerate").status_code == 202
    return ids


def walk_feed_and_reports(api: ContractClient, preset_id: str) -> None:
    feed = f"/api/presets/{preset_id}/gallery"
    api.open("GET", feed, token=None)  # 401
    page = api.open("GET", feed, token=FEED_TOKEN)
    assert page.status_code == 200 and page.get_json()["items"]
    assert api.open("GET", feed, token=FEED_TOKEN, headers={"If-None-Match": page.headers["ETag"]}).status_code == 304
    api.open("GET", f"{feed}?perPage=0", token=FEED_TOKEN)  # 400
    api.open("GET", "/api/admin/spend")
    api.open("GET", "/api/admin/analytics")
    api.open("GET", "/api/admin/analytics?from=yesterday")  # 400
    api.open("GET", "/api/openapi.json", token=None)


def walk_comparisons(api: ContractClient, app, preset_id: str) -> None:
    """One comparison run inline (offline) voted on and adopted; another kept queued and canceled."""
    start = f"/api/admin/presets/{preset_id}/comparisons"
    body = {"variants": [{"current": True}, {"provider": "FLUX_PRO", "settings": {}}], "modelIds": ["male_03"]}
    started = api.open("POST", start, json=body)
    assert started.status_code == 202, started.get_json()
    comparison_id = started.get_json()["comparisonId"]
    api.open("POST", start, json={"variants": [{"current": True}]})  # 400: one variant
    api.open("GET", start)
    shown = api.open("GET", f"/api/admin/comparisons/{comparison_id}").get_json()
    api.open("GET", "/api/admin/comparisons/no-such-comparison")  # 404
    left, right = (c["id"] for c in shown["cells"])
    votes = f"/api/admin/comparisons/{comparison_id}/votes"
    assert api.open("POST", votes, json={"left": left, "right": right, "verdict": "both_bad"}).status_code == 201
    api.open("POST", votes, json={"left": left, "right": left, "verdict": "left"})  # 400: one cell twice
    api.open("POST", votes, json={"left": left, "right": "nope", "verdict": "left"})  # 404
    adopt = f"/api/admin/comparisons/{comparison_id}/adopt"
    variant = shown["variants"][1]["id"]
    kept = [c["id"] for c in shown["cells"] if c["variantId"] == variant]
    assert api.open("POST", adopt, json={"variantId": variant, "cellIds": kept}).status_code == 200
    api.open("POST", adopt, json={"variantId": variant, "cellIds": []})  # 409: adopted already
    api.open("POST", f"/api/admin/comparisons/{comparison_id}/cancel")  # 409: it has ended
    services = app.extensions["pixelglow"]
    enqueue, services.enqueue_job = services.enqueue_job, lambda job_id: None
    other = {"variants": [{"current": True}, {"provider": "FLUX_KONTEXT"}], "models": {"male": 0, "female": 1}}
    queued = api.open("POST", start, json=other).get_json()["comparisonId"]
    services.enqueue_job = enqueue
    assert api.open("POST", f"/api/admin/comparisons/{queued}/cancel").status_code == 202


def walk_every_operation(app, spec: dict) -> ContractClient:
    api = ContractClient(app, spec)
    preset_id = walk_presets(api)
    walk_jobs(api, app, preset_id)
    example_ids = walk_gallery(api, preset_id)
    walk_feed_and_reports(api, preset_id)
    walk_comparisons(api, app, preset_id)
    model_id = api.open("GET", f"/api/admin/presets/{preset_id}").get_json()["gallery"]["items"][0]["modelId"]
    assert example_ids
    api.open("POST", f"/api/admin/presets/{preset_id}/models/{model_id}/release")
    api.open("POST", f"/api/admin/presets/{preset_id}/models/male_01/release")  # 409: already free
    api.open("DELETE", f"/api/admin/presets/{preset_id}")
    api.open("DELETE", f"/api/admin/presets/{preset_id}")  # 404: gone
    return api


@pytest.fixture
def contract_app(make_app, immediate_huey):
    return make_app(GALLERY_FEED_TOKEN=FEED_TOKEN)


# -- the tests --------------------------------------------------------------------------------------------------
def test_the_served_document_is_valid_openapi_3_1_and_public(make_app):
    client = make_app().test_client()
    response = client.get("/api/openapi.json")  # no token, no session
    assert response.status_code == 200 and response.mimetype == "application/json"
    served = response.get_json()
    assert served["openapi"].startswith("3.1.")
    OpenAPIV31SpecValidator(served).validate()  # raises on any error
    assert served == document()
    assert re.fullmatch(r"\d+\.\d+\.\d+", served["info"]["version"])


def test_every_route_under_api_is_in_the_document_and_every_operation_is_a_route(make_app):
    app = make_app()
    routes, operations = api_routes(app), documented_operations(document())
    assert routes - operations == set(), "routes the contract does not describe"
    assert operations - routes == set(), "operations the app does not serve"
    assert {("GET", "/api/presets/{preset_id}/gallery"), ("GET", "/api/openapi.json")} < routes  # the walk saw the map


def test_every_operation_answers_as_the_contract_says(contract_app):
    api = walk_every_operation(contract_app, document())
    succeeded = {(method, path) for method, path, status in api.seen if status < 400}
    assert documented_operations(document()) - succeeded == set(), "operations the walk never saw succeed"
    statuses = {status for _, _, status in api.seen}
    assert {200, 201, 202, 304, 400, 401, 404, 409} <= statuses


def test_a_changed_answer_shape_breaks_the_contract(contract_app, monkeypatch):
    """The preset's `gallery` as a bare list of items (its shape before it became a page object)."""
    real = preset_json_module.gallery_page_json
    monkeypatch.setattr(preset_json_module, "gallery_page_json", lambda *args: real(*args)["items"])
    with pytest.raises(AssertionError) as failure:
        walk_every_operation(contract_app, document())
    message = str(failure.value)
    assert "createPreset" in message and "gallery" in message and "is not of type 'object'" in message


def test_an_undocumented_field_breaks_the_contract(contract_app, monkeypatch):
    from app.web.api import reports

    monkeypatch.setattr(reports.ledger, "month_json", lambda settings: {"month": "2026-11", "spent": 1})
    api = ContractClient(contract_app, document())
    with pytest.raises(AssertionError, match="getSpend.*(spent|required)"):
        api.open("GET", "/api/admin/spend")


def test_the_admin_reference_page_lists_every_operation(admin_client):
    page = admin_client.get("/admin/api").get_data(as_text=True)
    for method, path in documented_operations(document()):
        assert f'<code class="api-path">{path}</code>' in page, (method, path)
    assert 'id="schema-Preset"' in page and "version 1.1.0" in page
    assert admin_client.application.test_client().get("/admin/api").status_code in (302, 401)


def test_auth_headers_helper_is_the_token_the_walk_sends():
    assert auth_headers()["Authorization"] == f"Bearer {API_TOKEN}"


@pytest.mark.parametrize("settings", [False, [], "aspect_ratio=3:4", 0])
def test_settings_that_are_not_an_object_are_a_400(contract_app, settings):
    """Schemathesis's first finding: `"settings": false` was a 500 (and `[]` was stored as {})."""
    api = ContractClient(contract_app, document())
    body = {"name": "Odd settings", "prompt": "p", "provider": "FLUX_PRO", "settings": settings}
    response = api.open("POST", "/api/admin/presets", json=body)
    assert response.status_code == 400 and "settings must be a JSON object" in response.get_json()["error"]
