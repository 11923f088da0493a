"""Input no request may smuggle in: JSON beyond our limits (see `app.core.safe_json`), NUL characters and
unpaired surrogates in the path, the query string or a form. Each is a 400 naming the problem, on every
database, instead of a 500 with a traceback (or text that PostgreSQL refuses and SQLite keeps)."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from flask.typing import ResponseReturnValue

from app.core.safe_json import dumps_finite, loads_checked, text_problem
from app.web.errors import error_response


class CheckedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with `loads_checked` for reading and no NaN / Infinity ever written."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_checked(s, max_bytes=None)  # request bodies are capped by MAX_CONTENT_LENGTH (and the API's own)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        return dumps_finite(obj, **kwargs)


def input_problem() -> str | None:
    problem = text_problem(request.path)
    if problem:
        return f"The address contains {problem}."
    for where, values in (("query string", request.args), ("form", request.form)):
        for key, value in values.items(multi=True):
            problem = text_problem(key) or text_problem(value)
            if problem:
                return f"A field of the {where} contains {problem}."
    return None


def refuse_bad_input() -> ResponseReturnValue | None:
    problem = input_problem()
    if problem:
        return error_response(400, problem)
    return None


def init_app(app: Flask) -> None:
    app.json = CheckedJSONProvider(app)
    app.before_request(refuse_bad_input)
