"""Settings, read from the environment in one place.

Development runs with no configuration at all: SQLite and an embedded queue under `instance/`, secrets
generated once and kept there. Production refuses to start with a missing or invalid value and names
the variable, so a typo never turns into a silently different deployment.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from app.core.env_values import ConfigError, number, rate_limits, whole_number
from app.core.files import create_private_file, private_dir
from app.core.s3_settings import S3Settings, load_s3_settings

__all__ = ["ConfigError", "Settings", "load_settings"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INSTANCE_PATH = PROJECT_ROOT / "instance"

ENVIRONMENTS = ("development", "production")
GENERATION_MODES = ("replicate", "offline")


# an admin session ends after this long without a request, and this long after sign-in whatever it does
SESSION_IDLE_SECONDS = 2 * 3600.0
SESSION_LIFETIME_SECONDS = 12 * 3600.0


@dataclass(frozen=True)
class Settings:
    env: str
    secret_key: str
    database_url: str
    redis_url: str | None
    replicate_api_token: str | None
    admin_api_token: str | None  # unset in production: only named tokens (`tokens create`) are accepted
    generation_mode: str
    models_file: Path
    media_dir: Path
    port: int
    instance_path: Path
    concurrency: int = 20
    prediction_timeout: float = 600.0
    max_output_bytes: int = 25 * 1024 * 1024
    max_prediction_bytes: int = 40 * 1024 * 1024  # a prediction's JSON as Replicate answers it (inline outputs too)
    poll_interval: float = 0.2
    create_rate_per_minute: int = 600
    reads_per_minute: int = 1500
    read_by_list: bool = True  # without webhooks, one list of the account's predictions reads them all
    secure_cookies: bool = False
    offline_delay: float = 0.0
    replicate_base_url: str | None = None
    job_stale_seconds: float = 60.0
    sweep_interval: float = 5.0
    max_stalled_requeues: int = 5
    sd_img2img_version: str = "ddd4eb440853a42c055203289a3da0c8886b0b9492fe619b1c1dbd34be160ce7"
    prices: dict = field(default_factory=dict)
    prices_per_second: dict = field(default_factory=dict)  # USD/s of predict_time, time-billed (default: Nvidia T4)
    spend_limit_per_month: float | None = None  # USD per UTC month; None: no limit
    session_idle_seconds: float = SESSION_IDLE_SECONDS
    session_lifetime_seconds: float = SESSION_LIFETIME_SECONDS
    trusted_proxies: tuple = ()  # ipaddress networks whose X-Forwarded-For is believed
    login_limits_account: str = "5 per minute; 10 per 15 minutes; 20 per day"
    login_limits_address: str = "30 per minute; 100 per hour"
    # webhooks: where Replicate can reach us, the signing secret if not fetched, the fallback poll
    public_base_url: str | None = None
    webhook_secret: str | None = None
    webhook_fallback_poll: float = 30.0
    gallery_feed_token: str | None = None  # the consumer app's Bearer token for GET /api/presets/<id>/gallery
    gallery_feed_public: bool = False  # GALLERY_FEED_PUBLIC=1: the feed and its images need no token
    gallery_feed_limits: str = "600 per minute"  # per client address, on the feed and on its images each
    s3: S3Settings = field(default_factory=S3Settings)  # S3_BUCKET set: media in the bucket (app/storage/s3.py)
    sentry_dsn: str | None = None  # error reporting on (app/core/error_reporting.py)
    sentry_environment: str = "development"
    sentry_release: str | None = None
    metrics_token: str | None = None  # the Prometheus scraper's Bearer token for GET /metrics; unset: 404

    @property
    def webhook_url(self) -> str | None:
        return f"{self.public_base_url}/hooks/replicate" if self.public_base_url else None

    @property
    def offline(self) -> bool:
        return self.generation_mode == "offline"

    @property
    def is_production(self) -> bool:
        return self.env == "production"


DEFAULT_PRICES = {  # USD per output image, list prices seen on the model pages; estimates only
    "NANO_BANANA": 0.039,
    "FLUX_KONTEXT": 0.04,
    "FLUX_PRO": 0.04,
    "STABLE_DIFFUSION": 0.0093,
}


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings of a PostgreSQL URL and use the psycopg 3 driver we ship."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _trusted_proxies(environ: Mapping[str, str]) -> tuple:
    raw = environ.get("TRUSTED_PROXIES") or ""
    networks = []
    for part in raw.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"TRUSTED_PROXIES must list IP addresses or networks, got {part!r}") from None
    return tuple(networks)


def _development_secrets(instance_path: Path) -> dict:
    """Generate SECRET_KEY and ADMIN_API_TOKEN once per checkout and keep them in instance/."""
    path = instance_path / "dev-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    private_dir(instance_path)
    values = {"SECRET_KEY": secrets.token_hex(32), "ADMIN_API_TOKEN": secrets.token_urlsafe(32)}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(values, indent=2))
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)  # first writer wins when the web process and the consumer start together
    except FileExistsError:
        tmp.unlink()
        return json.loads(path.read_text())
    tmp.unlink()
    print(f"Development secrets generated in {path}\n  ADMIN_API_TOKEN={values['ADMIN_API_TOKEN']}", file=sys.stderr)
    return values


def _secrets(environ: Mapping[str, str], production: bool, instance_path: Path) -> tuple[str, str | None]:
    """SECRET_KEY, and ADMIN_API_TOKEN: the bootstrap / break-glass token, optional in production."""
    secret_key = environ.get("SECRET_KEY")
    admin_token = environ.get("ADMIN_API_TOKEN") or None
    if production:
        if not secret_key or len(secret_key) < 16:
            raise ConfigError("SECRET_KEY must be set to a random string of at least 16 characters in production")
        if admin_token is not None and len(admin_token) < 16:
            raise ConfigError("ADMIN_API_TOKEN must be a random string of at least 16 characters, or unset")
    elif not secret_key or not admin_token:
        generated = _development_secrets(instance_path)
        secret_key = secret_key or generated["SECRET_KEY"]
        admin_token = admin_token or generated["ADMIN_API_TOKEN"]
    return secret_key, admin_token


def _database_url(environ: Mapping[str, str], production: bool, instance_path: Path) -> str:
    database_url = environ.get("DATABASE_URL")
    if not database_url:
        if production:
            raise ConfigError("DATABASE_URL must be set in production (e.g. postgresql://user@host/db)")
        database_url = f"sqlite:///{create_private_file(instance_path / 'pixelglow.sqlite3')}"
    if not database_url.startswith(("sqlite:", "postgres")):
        raise ConfigError(
            f"DATABASE_URL must be a sqlite:// or postgresql:// URL, got {database_url.split(':')[0]}://…"
        )
    return database_url


def _redis_url(environ: Mapping[str, str], production: bool) -> str | None:
    redis_url = environ.get("REDIS_URL") or environ.get("GENERATE_QUEUE") or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL (or GENERATE_QUEUE) must be a redis:// or rediss:// URL")
    if production and not redis_url:
        raise ConfigError(
            "REDIS_URL (or GENERATE_QUEUE) must be set in production: the queue and progress live in Redis"
        )
    return redis_url


def _generation_mode(environ: Mapping[str, str], production: bool) -> tuple[str | None, str]:
    token = environ.get("REPLICATE_API_TOKEN") or None
    mode = environ.get("GENERATION_MODE") or ("replicate" if (token or production) else "offline")
    if mode not in GENERATION_MODES:
        raise ConfigError(f"GENERATION_MODE must be one of {', '.join(GENERATION_MODES)}, got {mode!r}")
    if mode == "replicate" and not token:
        raise ConfigError("REPLICATE_API_TOKEN must be set when GENERATION_MODE is replicate")
    return token, mode


def _tuning(environ: Mapping[str, str]) -> dict:
    """The numbers that tune the worker and the limits, each with its default and its allowed range."""
    return dict(
        port=whole_number(environ, "PORT", 5000, 1, 65535),
        concurrency=whole_number(environ, "GENERATION_CONCURRENCY", 20, 1, 200),
        prediction_timeout=number(environ, "PREDICTION_TIMEOUT", 600.0, 1.0),
        max_output_bytes=whole_number(environ, "MAX_OUTPUT_BYTES", 25 * 1024 * 1024, 1024, 1024**3),
        max_prediction_bytes=whole_number(environ, "MAX_PREDICTION_BYTES", 40 * 1024 * 1024, 64 * 1024, 1024**3),
        poll_interval=number(environ, "REPLICATE_POLL_INTERVAL", 0.2, 0.01),
        create_rate_per_minute=whole_number(environ, "CREATE_RATE_PER_MINUTE", 600, 1, 100_000),
        reads_per_minute=whole_number(environ, "REPLICATE_READS_PER_MINUTE", 1500, 1, 100_000),
        read_by_list=whole_number(environ, "REPLICATE_READ_BY_LIST", 1, 0, 1) == 1,
        offline_delay=number(environ, "OFFLINE_DELAY", 0.0),
        replicate_base_url=environ.get("REPLICATE_BASE_URL") or None,
        job_stale_seconds=number(environ, "JOB_STALE_SECONDS", 60.0, 0.5),
        sweep_interval=number(environ, "SWEEP_INTERVAL_SECONDS", 5.0, 0.1),
        max_stalled_requeues=whole_number(environ, "MAX_STALLED_REQUEUES", 5, 0, 1000),
        prices_per_second={"STABLE_DIFFUSION": number(environ, "PRICE_STABLE_DIFFUSION_PER_SECOND", 0.000225)},
        spend_limit_per_month=number(environ, "SPEND_LIMIT_PER_MONTH_USD", None),
    )


def _webhooks(environ: Mapping[str, str]) -> dict:
    """PUBLIC_BASE_URL (turns webhooks on), REPLICATE_WEBHOOK_SECRET (else fetched from Replicate once)."""
    base = (environ.get("PUBLIC_BASE_URL") or "").strip().rstrip("/") or None
    if base and not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", base):
        raise ConfigError(f"PUBLIC_BASE_URL must be an http(s) URL like https://admin.example.com, got {base!r}")
    secret = environ.get("REPLICATE_WEBHOOK_SECRET") or None
    if secret and not re.fullmatch(r"whsec_[A-Za-z0-9+/=]+", secret):
        raise ConfigError("REPLICATE_WEBHOOK_SECRET must look like whsec_<base64>, as Replicate shows it")
    poll = number(environ, "WEBHOOK_FALLBACK_POLL_SECONDS", 30.0, 0.05)
    return {"public_base_url": base, "webhook_secret": secret, "webhook_fallback_poll": poll}


def _gallery_feed(environ: Mapping[str, str], production: bool, admin_token: str | None) -> dict:
    """GALLERY_FEED_TOKEN (the consumer app's Bearer token) or GALLERY_FEED_PUBLIC=1: production needs one."""
    token = environ.get("GALLERY_FEED_TOKEN") or None
    public = whole_number(environ, "GALLERY_FEED_PUBLIC", 0, 0, 1) == 1
    if token is not None and (len(token) < 16 or token == admin_token):
        raise ConfigError("GALLERY_FEED_TOKEN must be a random string of at least 16 characters, not ADMIN_API_TOKEN")
    if production and not token and not public:
        raise ConfigError("GALLERY_FEED_TOKEN must be set in production, or GALLERY_FEED_PUBLIC=1 for a public feed")
    limits = rate_limits(environ, "GALLERY_FEED_LIMITS", Settings.gallery_feed_limits)
    return {"gallery_feed_token": token, "gallery_feed_public": public, "gallery_feed_limits": limits}


def _monitoring(environ: Mapping[str, str], env: str, admin_token: str | None) -> dict:
    """SENTRY_DSN (error reporting), its environment and release; METRICS_TOKEN (the scraper's, not an admin's)."""
    dsn = environ.get("SENTRY_DSN") or None
    if dsn and not re.fullmatch(r"https?://[^@/\s]+@[^/\s]+/\S*\d+", dsn):
        raise ConfigError("SENTRY_DSN must be a DSN like https://<key>@o0.ingest.sentry.io/<project>, as Sentry shows")
    token = environ.get("METRICS_TOKEN") or None
    if token is not None and (len(token) < 16 or token == admin_token):
        raise ConfigError("METRICS_TOKEN must be a random string of at least 16 characters, not ADMIN_API_TOKEN")
    return {
        "sentry_dsn": dsn,
        "sentry_environment": environ.get("SENTRY_ENVIRONMENT") or env,
        "sentry_release": environ.get("SENTRY_RELEASE") or None,
        "metrics_token": token,
    }


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    env = environ.get("APP_ENV", "development") or "development"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    production = env == "production"
    instance_path = Path(environ.get("INSTANCE_PATH") or DEFAULT_INSTANCE_PATH).resolve()
    secret_key, admin_token = _secrets(environ, production, instance_path)
    database_url = _database_url(environ, production, instance_path)
    redis_url = _redis_url(environ, production)
    token, mode = _generation_mode(environ, production)
    return Settings(
        env=env,
        secret_key=secret_key,
        database_url=normalise_database_url(database_url),
        redis_url=redis_url,
        replicate_api_token=token,
        admin_api_token=admin_token,
        generation_mode=mode,
        # relative paths are the project's (an absolute one replaces PROJECT_ROOT)
        models_file=PROJECT_ROOT / (environ.get("MODELS_FILE") or "models.json"),
        media_dir=PROJECT_ROOT / (environ.get("MEDIA_DIR") or instance_path / "media"),
        instance_path=instance_path,
        **_tuning(environ),
        secure_cookies=environ.get("SESSION_COOKIE_SECURE", "1" if production else "0") == "1",
        sd_img2img_version=environ.get("SD_IMG2IMG_VERSION") or Settings.sd_img2img_version,
        prices={name: number(environ, f"PRICE_{name}", price) for name, price in DEFAULT_PRICES.items()},
        session_idle_seconds=number(environ, "SESSION_IDLE_SECONDS", SESSION_IDLE_SECONDS, 1.0),
        session_lifetime_seconds=number(environ, "SESSION_LIFETIME_SECONDS", SESSION_LIFETIME_SECONDS, 1.0),
        trusted_proxies=_trusted_proxies(environ),
        login_limits_account=rate_limits(environ, "LOGIN_LIMITS_ACCOUNT", Settings.login_limits_account),
        login_limits_address=rate_limits(environ, "LOGIN_LIMITS_ADDRESS", Settings.login_limits_address),
        **_webhooks(environ),
        **_gallery_feed(environ, production, admin_token),
        s3=load_s3_settings(environ),
        **_monitoring(environ, env, admin_token),
    )
