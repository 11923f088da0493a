"""How a job ended, in one place: its final status, the reason, the message and the summary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from app.models import ItemState, JobStatus


class Item(Protocol):
    model_id: str
    example_index: int
    state: str
    error: str | None


def final_status(items: Iterable[Item], cancel_requested: bool) -> tuple[JobStatus, str | None]:
    """(status, reason) of a job whose items have all ended."""
    items = list(items)
    done = sum(1 for i in items if i.state == ItemState.SUCCEEDED)
    failed = sum(1 for i in items if i.state == ItemState.FAILED)
    total = len(items)
    if cancel_requested:
        return JobStatus.CANCELED, f"Canceled by an admin after {done} of {total} examples"
    if done == total:
        return JobStatus.SUCCEEDED, None
    if done == 0:
        first = next((i.error for i in items if i.error), "no example could be made")
        return JobStatus.FAILED, f"All {total} predictions failed; first reason: {first}"
    return JobStatus.PARTIAL, f"{failed} of {total} predictions failed"


def final_percent(status: str, done: int, failed: int, total: int) -> int:
    """How far the bar of an ended job goes: all the way, except for a canceled job, which shows how far it got
    (the items that ended on their own: stored or failed)."""
    if status != JobStatus.CANCELED:
        return 100
    return int(100 * (done + failed) / total) if total else 0


def final_stage(status: str) -> str:
    return "canceled" if status == JobStatus.CANCELED else "complete"


def final_message(status: str, done: int, failed: int, total: int) -> str:
    if status == JobStatus.CANCELED:
        canceled = total - done - failed
        ended = f"{done} of {total} examples stored" + (f", {failed} failed" if failed else "")
        return f"{ended} before the cancel; {canceled} canceled"
    if status == JobStatus.SUCCEEDED:
        return f"Done: {done} examples stored"
    if status == JobStatus.PARTIAL:
        return f"Finished with failures: {done} stored, {failed} failed"
    return f"Failed: none of the {total} predictions produced an example"


def final_progress(status: str, done: int, failed: int, total: int) -> tuple[int, str, str]:
    """(percent, stage, message) of the last progress record of a job."""
    return final_percent(status, done, failed, total), final_stage(status), final_message(status, done, failed, total)


@dataclass(frozen=True)
class Rerun:
    """What a retry of a job reruns: its items that got no example, by how they ended."""

    failed: int
    canceled: int

    @property
    def total(self) -> int:
        return self.failed + self.canceled

    @property
    def items_text(self) -> str:
        """ "40 canceled items", "3 failed items", "3 failed and 37 canceled items"."""
        parts = [f"{n} {what}" for n, what in ((self.failed, "failed"), (self.canceled, "canceled")) if n]
        return " and ".join(parts or ["0"]) + (" item" if self.total == 1 else " items")

    @property
    def button(self) -> str:
        return f"Retry {self.items_text}"


def summary(job_id: str, status: str, items: Iterable[Item]) -> dict:
    """What `run_job` returns (the Huey task's result, the tests' view)."""
    items = list(items)
    return {
        "jobId": job_id,
        "status": status,
        "done": sum(1 for i in items if i.state == ItemState.SUCCEEDED),
        "failed": sum(1 for i in items if i.state == ItemState.FAILED),
        "total": len(items),
        "failures": [
            {"modelId": i.model_id, "index": i.example_index, "error": i.error}
            for i in items
            if i.state == ItemState.FAILED
        ],
    }
