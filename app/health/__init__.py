"""Is this deployment able to work, and if not, what is down and what to do.

`readiness` (served at /readyz): the database, its migrations, Redis, the registry, storage.
`doctor` (`flask --app wsgi doctor`): the same plus the Replicate token, the webhook secret, live consumers
and the oldest queued job. Each check runs on its own, so one failure never hides another.
"""

from __future__ import annotations

from app.health.checks import Check
from app.health.doctor import doctor_checks
from app.health.readiness import readiness_checks

__all__ = ["Check", "doctor_checks", "readiness_checks"]
