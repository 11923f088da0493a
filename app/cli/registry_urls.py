"""`models check --urls`: a HEAD request to every reference photo, a few at a time.

A photo that is gone or private fails the predictions that use it at Replicate, one model at a time and
after the job started; asking every URL first finds them all at once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from app.pool.registry import ReferenceModel

MAX_REDIRECTS = 5


@dataclass(frozen=True)
class UrlAnswer:
    model: ReferenceModel
    failure: str | None = None  # no answer, or an error status: the photo cannot be fetched
    warning: str | None = None  # it answers, but not as an image


def head_all(models: tuple[ReferenceModel, ...], workers: int, timeout: float) -> list[UrlAnswer]:
    """Every model's URL asked with HEAD, `workers` at a time, each with `timeout` seconds per step
    (connect, read); in the registry's order."""
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    with httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=MAX_REDIRECTS, limits=limits) as client:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="head") as pool:
            return list(pool.map(lambda model: head_one(client, model, timeout), models))


def head_one(client: httpx.Client, model: ReferenceModel, timeout: float) -> UrlAnswer:
    try:
        response = client.head(model.s3_url)
    except httpx.TimeoutException:
        return UrlAnswer(model, failure=f"no answer within {timeout:g} s")
    except httpx.TooManyRedirects:
        return UrlAnswer(model, failure=f"more than {MAX_REDIRECTS} redirects")
    except httpx.HTTPError as exc:
        return UrlAnswer(model, failure=f"cannot connect ({exc.__class__.__name__}: {exc})")
    if response.status_code >= 400:
        return UrlAnswer(model, failure=f"HTTP {response.status_code} {response.reason_phrase}".rstrip())
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    if content_type and not content_type.startswith("image/"):
        return UrlAnswer(model, warning=f"answers {content_type}, not an image")
    return UrlAnswer(model)
