"""Property-based: malformed bodies, types, sizes and ids at every JSON endpoint never give a 500."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import auth_headers, create_preset

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False)
    | st.text(max_size=300),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=20,
)
field_names = st.sampled_from(["name", "prompt", "provider", "settings", "examplesPerModel", "x", ""])
bodies = st.one_of(
    json_values.map(json.dumps),
    st.dictionaries(field_names, json_values, max_size=5).map(json.dumps),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    st.just(""),
    st.just("{" * 2000),
)
ids = st.one_of(
    st.text(min_size=1, max_size=80).filter(lambda s: "/" not in s and s not in (".", "..")), st.just("x" * 600)
)
content_types = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", None])

ENDPOINTS = [
    ("POST", "/api/admin/presets/{preset}/generate-examples"),
    ("POST", "/api/admin/presets"),
    ("PATCH", "/api/admin/presets/{preset}"),
    ("GET", "/api/admin/presets/{preset}"),
    ("DELETE", "/api/admin/presets/{other}"),
    ("GET", "/api/admin/presets"),
    ("GET", "/api/admin/jobs/{other}"),
    ("POST", "/api/admin/jobs/{other}/cancel"),
    ("POST", "/api/admin/jobs/{other}/retry"),
]


def test_every_json_endpoint_answers_malformed_input_with_a_json_error(make_app):
    app = make_app()
    app.extensions["pixelglow"].enqueue_job = lambda job_id: None
    client = app.test_client()
    preset = create_preset(client)

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        endpoint=st.sampled_from(ENDPOINTS),
        body=bodies,
        other=ids,
        content_type=content_types,
        use_real_preset=st.booleans(),
    )
    def check(endpoint, body, other, content_type, use_real_preset):
        method, template = endpoint
        url = template.format(preset=preset["id"] if use_real_preset else other, other=other)
        headers = auth_headers()
        if content_type:
            headers["Content-Type"] = content_type
        response = client.open(url, method=method, data=body.encode("utf-8", "surrogatepass"), headers=headers)
        assert response.status_code < 500, (method, url, body[:200], response.get_data(as_text=True)[:500])
        assert response.is_json, (method, url, response.get_data(as_text=True)[:200])
        data = response.get_json()
        if response.status_code >= 400:
            assert data["success"] is False and isinstance(data["error"], str) and data["error"]

    check()
