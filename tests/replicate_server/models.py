"""Models and versions: GET /v1/models/{owner}/{name}[/versions[/{id}]], a create's ``version`` field, and the
schemas a test changes or publishes to make the server disagree with the app's snapshot."""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from typing import Any

from tests.replicate_server.plumbing import Handler, not_found, problem
from tests.replicate_server.schemas import input_schema_of


class Models:
    """This server's own copy of the models (``models``) and of the runnable versions (``versions``)."""

    _lock: threading.RLock
    models: dict[str, dict[str, Any]]
    versions: dict[str, str]

    def model_version(self, model: str, version_id: str | None = None) -> dict:
        """This server's version record of ``model`` (``id``, ``created_at``, ``cog_version``,
        ``openapi_schema``): the latest, or the one with ``version_id`` (latest if unknown)."""
        with self._lock:
            versions = self.models[model]["versions"]
            for v in versions:
                if version_id is not None and v["id"] == version_id:
                    return v
            return versions[0]

    def input_schema(self, model: str, version_id: str | None = None) -> dict:
        """The live ``components.schemas.Input`` the server validates with: change it to make the
        server disagree with the app's snapshot. (Enums may be ``allOf``/``$ref``, as published.)"""
        return self.model_version(model, version_id)["openapi_schema"]["components"]["schemas"]["Input"]

    def resolved_input_schema(self, model: str, version_id: str | None = None) -> dict:
        """The same Input, dereferenced: comparable with ``app/providers/schemas/*.json``."""
        return input_schema_of(self.model_version(model, version_id)["openapi_schema"])

    def publish_version(self, model: str, openapi_schema: dict | None = None, version_id: str | None = None) -> str:
        """Make a new latest version of ``model`` (a copy of the latest, or ``openapi_schema``).
        A community model's new version can be run by version. Returns its id."""
        with self._lock:
            spec = self.models[model]
            latest = spec["versions"][0]
            vid = version_id or hashlib.sha256(f"{model}:{len(spec['versions'])}:{latest['id']}".encode()).hexdigest()
            spec["versions"].insert(
                0,
                {
                    "id": vid,
                    "created_at": self._iso(time.monotonic()),
                    "cog_version": latest["cog_version"],
                    "openapi_schema": copy.deepcopy(openapi_schema or latest["openapi_schema"]),
                },
            )
            if not spec["official"]:
                self.versions[vid] = model
            return vid

    def model_json(self, model: str) -> dict:
        """What GET /v1/models/{owner}/{name} answers."""
        with self._lock:
            spec = self.models[model]
            out = {
                k: copy.deepcopy(spec["model"].get(k))
                for k in (
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
                )
            }
            out["latest_version"] = self._version_json(spec["versions"][0])
            return out

    @staticmethod
    def _version_json(version: dict) -> dict:
        return {k: copy.deepcopy(version[k]) for k in ("id", "created_at", "cog_version", "openapi_schema")}

    def _model_route(self, h: Handler, name: str, version_id: str | None, listing: bool) -> None:
        with self._lock:
            spec = self.models.get(name)
            if spec is None:
                raise not_found()
            if listing:
                payload: Any = {
                    "previous": None,
                    "next": None,
                    "results": [self._version_json(v) for v in spec["versions"]],
                }
            elif version_id is None:
                payload = self.model_json(name)
            else:
                found = [v for v in spec["versions"] if v["id"] == version_id]
                if not found:
                    raise not_found()
                payload = self._version_json(found[0])
        h.reply(200, payload, "application/json")

    def _resolve_version(self, ref: Any) -> tuple[str, str]:
        """version field -> (model, version string to report)."""
        bad = problem(
            422,
            "Invalid version or not permitted",
            "The specified version does not exist (or perhaps you don't have permission to use it?)",
        )
        if not isinstance(ref, str) or not ref:
            raise bad
        if "/" in ref:
            name, _, vid = ref.partition(":")
            if name not in self.models:
                raise bad
            if not vid:
                if self.models[name]["official"]:
                    return name, "hidden"
                raise bad
            if self.versions.get(vid) != name:
                raise bad
            return name, vid
        model = self.versions.get(ref)
        if model is None:
            raise bad
        return model, ref
