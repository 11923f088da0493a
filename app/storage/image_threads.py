"""The process's image threads: every Pillow decode of an output (the downloader's check, the sizes) runs on one.

Two at once bound the memory decodes take (each is bounded by the pixel limit). Running them on two threads
rather than in the callers' own (a consumer runs up to 20 item threads a job) also keeps the decoders' large,
short-lived allocations in two threads' malloc arenas: glibc gives threads arenas of their own and keeps freed
memory in them, and 20 item threads decoding in turn held about 50 MB more at peak (benchmark 6's consumer).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

MAX_PARALLEL_DECODES = 2

P = ParamSpec("P")
T = TypeVar("T")

_threads = ThreadPoolExecutor(max_workers=MAX_PARALLEL_DECODES, thread_name_prefix="image")


def on_image_thread(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `work` on one of the image threads (waiting for a free one) and return its result or raise its
    exception. Never call it from work already on an image thread: it would wait for itself."""
    return _threads.submit(work, *args, **kwargs).result()
