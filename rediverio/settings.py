"""Rediverio settings: one module, every value from the environment.

Defaults give the embedded mode (SQLite under var/, the ORM broker) so that a newcomer
runs the product with no server; production sets DATABASE_URL, REDIS_URL, SECRET_KEY.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from rediverio.lib.env import (
    ImproperlyConfiguredEnv,
    env_bool,
    env_int,
    env_list,
    env_str,
    parse_database_url,
)
from rediverio.lib.local_secret import LocalSecretError, local_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("REDIVERIO_VAR_DIR") or BASE_DIR / "var")

try:
    DEBUG = env_bool("DEBUG", default=False)
    _secret_key = env_str("SECRET_KEY")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
    _database_url = env_str("DATABASE_URL")
    if not _database_url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        _database_url = f"sqlite:///{VAR_DIR / 'rediverio.sqlite3'}"
    DATABASES = {"default": parse_database_url(_database_url, base_dir=BASE_DIR)}
    REDIS_URL = env_str("REDIS_URL") or None
    Q_WORKERS = env_int("Q_WORKERS", default=2, minimum=1)
    # Names this deployment's django-q2 cluster; it prefixes every Redis key the product
    # writes (django-q2's queue and stats, the cache), so deployments can share a Redis.
    # django-q2 reads the same variable itself; keeping it as the cluster's name keeps
    # the two in agreement (a differing value would make django-q2 look for ALT_CLUSTERS).
    Q_CLUSTER_NAME = env_str("Q_CLUSTER_NAME") or "rediverio"

    # Agents and the command queue (agents/queue.py). Agents heartbeat every 30 s and
    # count as offline after three missed beats; a polled command must be acknowledged
    # within the ack timeout or it returns to the queue.
    AGENT_OFFLINE_AFTER_SECONDS = env_int("AGENT_OFFLINE_AFTER_SECONDS", default=90, minimum=1)
    COMMAND_ACK_TIMEOUT_SECONDS = env_int("COMMAND_ACK_TIMEOUT_SECONDS", default=120, minimum=1)
    COMMAND_TTL_SECONDS = env_int("COMMAND_TTL_SECONDS", default=24 * 3600, minimum=60)
    COMMAND_RETRY_BASE_SECONDS = env_int("COMMAND_RETRY_BASE_SECONDS", default=30, minimum=1)
    COMMAND_RETRY_CAP_SECONDS = env_int("COMMAND_RETRY_CAP_SECONDS", default=3600, minimum=1)
    COMMAND_RETENTION_DAYS = env_int("COMMAND_RETENTION_DAYS", default=7, minimum=1)
    AGENT_POLL_MAX_LIMIT = env_int("AGENT_POLL_MAX_LIMIT", default=100, minimum=1)
    AGENT_RATE_LIMIT = env_str("AGENT_RATE_LIMIT") or "100/s"
    SCAN_TRIGGER_RATE = env_str("SCAN_TRIGGER_RATE") or "20/min"  # manual triggers per user
    # /metrics: `Authorization: Bearer <METRICS_TOKEN>`. Only with DEBUG on may loopback
    # clients read it without the token: behind a same-host reverse proxy every request
    # comes from loopback, so in production the address proves nothing.
    METRICS_TOKEN = env_str("METRICS_TOKEN") or ""
    # The key of secret findings' fingerprints (ingest/secrets.py); empty: derived from
    # SECRET_KEY. Set it to rotate SECRET_KEY without refiling every secret finding.
    SECRET_FINGERPRINT_KEY = env_str("SECRET_FINGERPRINT_KEY") or ""

    # Sign-in throttling (django-axes, below): after LOGIN_FAILURE_LIMIT wrong passwords
    # for one username, or from one client address, sign-in is refused for
    # LOGIN_COOLOFF_MINUTES. TRUSTED_PROXY_COUNT says how many reverse proxies append
    # to X-Forwarded-For in front of the web workers; 0 (the default) means the client's
    # address is REMOTE_ADDR and X-Forwarded-For, which anyone can send, is ignored.
    LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", default=5, minimum=1)
    LOGIN_COOLOFF_MINUTES = env_int("LOGIN_COOLOFF_MINUTES", default=15, minimum=1)
    TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", default=0, minimum=0)

    # Ingest (ingest/): the limits of one report, of one agent and of one team (README:
    # Security). The largest report accepted, decompressed (a 100,000-result SARIF report
    # is about 70 MB), and what one report may hold (protocol/limits.py also refuses, before
    # decoding, a document whose objects would outweigh it more than ten times).
    INGEST_MAX_BYTES = env_int("INGEST_MAX_BYTES", default=100 * 1024 * 1024, minimum=1024)
    INGEST_MAX_FINDINGS = env_int("INGEST_MAX_FINDINGS", default=250_000, minimum=1)
    INGEST_MAX_ASSETS = env_int("INGEST_MAX_ASSETS", default=10_000, minimum=1)
    INGEST_MAX_DEPENDENCIES = env_int("INGEST_MAX_DEPENDENCIES", default=250_000, minimum=1)
    # Reports sent in chunks: chunks per report, reports an agent may have half-sent, the
    # bytes one agent and one team may have waiting (chunks not yet assembled, and
    # reports queued for the background job), and how long a half-sent report is kept.
    INGEST_MAX_CHUNKS = env_int("INGEST_MAX_CHUNKS", default=1_000, minimum=1)
    INGEST_AGENT_OPEN_REPORTS = env_int("INGEST_AGENT_OPEN_REPORTS", default=8, minimum=1)
    INGEST_AGENT_PENDING_BYTES = env_int(
        "INGEST_AGENT_PENDING_BYTES", default=200 * 1024 * 1024, minimum=1024
    )
    INGEST_TEAM_PENDING_BYTES = env_int(
        "INGEST_TEAM_PENDING_BYTES", default=1024 * 1024 * 1024, minimum=1024
    )
    INGEST_CHUNK_TTL_SECONDS = env_int("INGEST_CHUNK_TTL_SECONDS", default=6 * 3600, minimum=60)
    # Every other agent call (heartbeat, poll, command result) is small.
    AGENT_MESSAGE_MAX_BYTES = env_int(
        "AGENT_MESSAGE_MAX_BYTES", default=8 * 1024 * 1024, minimum=1024
    )
    # Reports above the async threshold are stored by a background job (202 + a status
    # URL); an identical report re-sent within the replay window gets the first answer.
    INGEST_ASYNC_THRESHOLD_BYTES = env_int(
        "INGEST_ASYNC_THRESHOLD_BYTES", default=20 * 1024 * 1024, minimum=1024
    )
    INGEST_REPLAY_WINDOW_SECONDS = env_int("INGEST_REPLAY_WINDOW_SECONDS", default=600, minimum=0)
    # A background ingest that no live job holds after this long gets a new job (its job
    # was lost with a killed cluster, or its worker died); see ingest/tasks.py.
    INGEST_REQUEUE_AFTER_SECONDS = env_int("INGEST_REQUEUE_AFTER_SECONDS", default=300, minimum=1)
except ImproperlyConfiguredEnv as exc:
    raise ImproperlyConfigured(str(exc)) from exc

# The embedded mode (SQLite under var/, what `make run` installs) keeps a key of its own
# in var/, generated once (owner-only), so that `make run` (DEBUG on) and the README's
# `manage.py` commands (DEBUG off) work as written and share one key. A server database
# means a deployment: there DEBUG off without SECRET_KEY stops start-up.
_embedded = DATABASES["default"]["ENGINE"].endswith("sqlite3")
if _secret_key:
    SECRET_KEY = _secret_key
elif _embedded or DEBUG:
    try:
        SECRET_KEY = local_secret_key(VAR_DIR / "secret_key")
    except (OSError, LocalSecretError) as exc:
        raise ImproperlyConfigured(f"SECRET_KEY is not set and {exc}") from exc
else:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set when DEBUG is off and DATABASE_URL names a database "
        "server (only the embedded SQLite mode keeps a generated key, in var/secret_key)"
    )

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])

# Behind TLS in production (DEBUG off): secure cookies, HSTS, HTTPS redirects. A proxy
# that terminates TLS says so with X-Forwarded-Proto; /healthz and /readyz stay on plain
# HTTP for load balancers that probe the backend directly.
SECURE_TLS = env_bool("SECURE_TLS", default=not DEBUG)
if SECURE_TLS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=31536000, minimum=0)
    # Defaults fit a host that serves only HTTPS; turn these off when sibling
    # subdomains still serve plain HTTP.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp's middleware, below), on every response: pages and
# the API alike. Scripts and styles come only from our static files: templates carry no
# inline <script>, on…= handler or style="" (tests/security/test_content_security_policy.py
# scans them), behaviour lives in static/rediverio.js, and htmx runs without eval
# (templates/_base.html). No framing (as X_FRAME_OPTIONS), no plugins, forms post only here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    "rediverio",
    "findings",
    "ingest",
    "agents",
    "scans",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "rediverio.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Early, so that answers made by the middleware below (lockouts, refusals) carry it too.
    "csp.middleware.CSPMiddleware",
    # Static files straight from the web workers, compressed and cached (no nginx needed).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "rediverio.middleware.CurrentTenantMiddleware",
    # Turns a refused sign-in (too many failures) into the lockout page, 429.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "rediverio.urls"
WSGI_APPLICATION = "rediverio.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rediverio.middleware.current_tenant",
            ],
        },
    },
]

# django-prometheus's database backends are Django's own, counting queries and errors
# per database for /metrics.
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace(
    "django.db.backends.", "django_prometheus.db.backends."
)

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The web process, the django-q2 cluster and a local agent share one file: WAL lets
    # readers run beside the single writer, IMMEDIATE takes the write lock at BEGIN (no
    # deadlock when two read-then-write transactions meet), and the timeout makes a
    # writer wait for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", default=60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Axes' backend comes first: it refuses a locked-out username or address before any
# password is checked, for the dashboard sign-in and the admin login alike (both use
# Django's authentication form). Failures are rows in the database, so every web
# worker sees the same count with or without Redis; they expire after the cool-off.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
# Two separate counters: per username (a guessed password from many addresses) and
# per address (many usernames from one address).
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "rediverio.login_throttle.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# A success does not wipe the address's failures: signing in to one's own account
# would otherwise reset the count between guesses at someone else's.
AXES_RESET_ON_SUCCESS = False
# Only failures are needed to throttle; a row per successful sign-in and sign-out would
# be a table that grows without end (nothing prunes it).
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "rediverio.api_errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Rediverio API",
    "DESCRIPTION": "Scan orchestration, agent protocol and ingest.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files: the product runs offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AgentTypeEnum": "agents.models.AgentType",
        "AgentStatusEnum": "agents.models.AgentStatus",
        "AgentHealthEnum": "agents.models.AgentHealth",
        "CommandTypeEnum": "agents.models.CommandType",
        "CommandStatusEnum": "agents.models.CommandStatus",
        "ReportedAgentStatusEnum": "agents.api.serializers.REPORTED_STATUSES",
    },
}

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": Q_CLUSTER_NAME,
        }
    }
else:
    # Per process: rate limits then hold per web worker, which is fine for one machine.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# django-q2: the ORM broker in embedded mode, Redis when REDIS_URL is set.
# timeout < retry so a slow task is killed before the broker hands it out again.
Q_CLUSTER = {
    "name": Q_CLUSTER_NAME,
    "workers": Q_WORKERS,
    "timeout": 300,
    "retry": 360,
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 250,
    "label": "Background jobs",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 1

# LOG_FORMAT=json gives one JSON object per line (time, level, logger, message, request
# id) for log shippers; the default stays readable in a terminal.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "rediverio.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "rediverio.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if env_str("LOG_FORMAT") == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL") or "INFO"},
}
