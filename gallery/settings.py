"""Settings for Seedream Gallery, read from the environment.

One file for every deployment: the defaults run on one machine with nothing else installed
(SQLite, a filesystem broker and local media under ``var/``); setting ``DATABASE_URL``,
``REDIS_URL`` and ``S3_BUCKET`` moves each part to a real engine. Every variable is listed in
``.env.example`` and in the README. A malformed value stops start-up with a message naming it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from kombu import Queue

from gallery.env import env_bool, env_choice, env_float, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY: must be set when DEBUG is off (bin/run generates one under var/)"
        )
    SECRET_KEY = "insecure-development-key-only-for-debug-mode-0123456789"  # noqa: S105
elif len(SECRET_KEY) < 32 and not DEBUG:
    raise ImproperlyConfigured("SECRET_KEY: must be at least 32 characters long")

SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000")
_site = urlsplit(SITE_URL)
HTTPS = _site.scheme == "https"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", sorted({"127.0.0.1", "localhost", _site.hostname or ""}))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [f"{_site.scheme}://{_site.netloc}"])

INSTALLED_APPS = [
    "gallery.apps.GalleryConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_htmx",
    "ninja",  # the JSON API's docs page and its bundled Swagger UI (served from static)
    "axes",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Signed thumbnail URLs, answered before sessions and auth: no query, no session (issue 15)
    "gallery.media.middleware.SignedMediaMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",  # SECURE_CSP, with a nonce
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",  # request.htmx: is this an htmx request
    "gallery.team.middleware.ActiveTeamMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into its 429 page
]

ROOT_URLCONF = "gallery.urls"
WSGI_APPLICATION = "gallery.wsgi.application"

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
                "django.template.context_processors.csp",  # {{ csp_nonce }}
                "gallery.context_processors.gallery",
            ],
        },
    },
]


def _database_from_url(name: str, default: str) -> dict[str, object]:
    url = env_str(name, default) or default
    try:
        config = dj_database_url.parse(url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    except Exception as exc:  # dj-database-url raises ValueError or KeyError on nonsense
        raise ImproperlyConfigured(f"{name}: not a usable database URL ({exc})") from None
    if not config.get("ENGINE"):
        raise ImproperlyConfigured(f"{name}: not a usable database URL")
    engine = str(config["ENGINE"])
    if engine.endswith("sqlite3"):
        # WAL and immediate transactions let the web server and the worker share one file
        # without "database is locked" errors under normal load.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        config["CONN_MAX_AGE"] = 0
    elif engine.endswith("postgresql"):
        config.setdefault("CONN_HEALTH_CHECKS", True)
        config["CONN_HEALTH_CHECKS"] = True
    return dict(config)


DATABASES = {"default": _database_from_url("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "gallery.User"

# Sign-in throttling (django-axes): every authenticate() call, /accounts/login/ and
# /admin/login/ alike, is checked first. Failures are counted per username and per client
# address (AXES_FAILURE_LIMIT in AXES_COOLOFF_TIME each); past either limit the login answers
# 429 with Retry-After until the window has passed, the right password included. A superuser
# unlocks at once by deleting the attempts in the admin ("Access attempts"), or with
# `manage.py axes_reset_username <name>` / `axes_reset_ip <address>`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
# Tries made while locked out do not restart the window: the lock ends when it said it would.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "gallery.http.client_ip"  # X-Forwarded-For only from our own proxy
AXES_LOCKOUT_CALLABLE = "gallery.accounts.views.login_locked_out"
AXES_USERNAME_CALLABLE = "gallery.accounts.selectors.login_username"  # cut to 150 characters
AXES_DISABLE_ACCESS_LOG = True  # failures are what is counted; successful logins are not kept
AXES_ENABLE_ADMIN = False  # gallery.accounts.admin registers the attempts, for superusers only
# Not stored with an attempt's form data: the password (always), and ?next=, which can hold
# an invitation's /join/<token>/.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "next"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC") or "UTC"
USE_I18N = True
USE_TZ = True

# Static files are served by WhiteNoise in every mode; media is served by the app's own views,
# behind access checks, never straight from MEDIA_ROOT.
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "/media/"
WHITENOISE_MANIFEST_STRICT = False

S3_BUCKET = env_str("S3_BUCKET")
if S3_BUCKET:
    _media_storage: dict[str, object] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_str("S3_ENDPOINT_URL") or None,
            "region_name": env_str("S3_REGION") or None,
            "access_key": env_str("S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("S3_SECRET_ACCESS_KEY") or None,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _media_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _media_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Uploads: Django has no per-file cap, so gallery.generation.uploads enforces one while the body
# is read (the views check it again); the other settings bound the request itself.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_NUMBER_FILES = 20
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "gallery.generation.uploads.UploadSizeCapHandler",  # first: stops a file at UPLOAD_MAX_BYTES
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# Shared-link passwords (gallery.sharing.passwords): failed attempts in a window, per link and
# client and per client (past either, that client waits; nobody else does), and per link from
# everyone: past SLOW_AFTER the link slows down (each try waits a few seconds after its form was
# shown, up to MAX_WAIT) rather than locking the right password out for everyone.
SHARE_PASSWORD_WINDOW_SECONDS = 15 * 60
SHARE_PASSWORD_ATTEMPTS = 5
SHARE_PASSWORD_ATTEMPTS_PER_CLIENT = 20
SHARE_PASSWORD_SLOW_AFTER = 50
SHARE_PASSWORD_MAX_WAIT_SECONDS = 30

# Security headers. HTTPS-only protections follow the scheme of SITE_URL, so a local run over
# plain http works and a deployment behind TLS passes `manage.py check --deploy`.
SECURE_CONTENT_TYPE_NOSNIFF = True
# Content-Security-Policy on every response, from Django's own middleware: scripts only from
# our origin or carrying this response's nonce (no inline handlers, no eval: htmx runs with
# allowEval off), styles likewise. Style *attributes* stay allowed: the tiles' placeholder
# colours are per-image style attributes, and a style attribute cannot run script. Responses
# that set their own, stricter policy keep it (media: MEDIA_CSP; shared pages: PAGE_CSP).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "style-src-attr": [CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "gallery.pages.csrf_failure"  # the styled 403, in the app's shell
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS and env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Celery. The database is the source of truth for every generation; the broker only carries
# "look at row N" messages, so losing one delays work but never loses it (see the README).
REDIS_URL = env_url("REDIS_URL", "", schemes=("redis", "rediss")) if env_str("REDIS_URL") else ""
BROKER_DIR = VAR_DIR / "broker"
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=120)
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    # kombu's filesystem transport with atomic message writes (gallery/broker.py).
    CELERY_BROKER_TRANSPORT = "gallery.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # How often a worker looks for new messages: a listing of one folder. At 0.05 s the
        # listener -> worker hand-off costs ~25 ms on average instead of ~250 ms at 0.5 s.
        "polling_interval": 0.05,
    }
# One queue name per installation lets several share a Redis server (the cache's keys, the
# listener's liveness among them, are kept apart by the same name).
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery") or "celery"
# The cache is shared by every process (web, worker, listener): Redis when configured, else files.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": (
                "gallery"
                if CELERY_TASK_DEFAULT_QUEUE == "celery"
                else f"gallery-{CELERY_TASK_DEFAULT_QUEUE}"
            ),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "gallery.cache.FileBasedCache",  # add and incr atomic
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Time limits stay below the visibility timeout, or Redis would redeliver a task still running.
CELERY_TASK_TIME_LIMIT = min(300, CELERY_VISIBILITY_TIMEOUT // 2)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
CELERY_WORKER_MAX_TASKS_PER_CHILD = 200
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE = {
    # The safety net behind the event stream: poll what is due, re-drive lost tasks, end
    # anything past its deadline. Expires so a stopped worker does not come back to a pile.
    "generations-sweep": {
        "task": "gallery.tasks.generations_sweep",
        "schedule": 2.0,
        "options": {"expires": 10},
    },
    # The model's schema, read and stored: what the form and submits use while Oxen is down.
    "schema-refresh": {
        "task": "gallery.tasks.schema_refresh",
        "schedule": 5 * 60.0,
        "options": {"expires": 60},
    },
    # The ledger: what Oxen made for us in the last two days against what the gallery holds
    # (adopts billed results it lost, corrects statuses and costs); manage.py oxen_reconcile.
    "generations-reconcile": {
        "task": "gallery.tasks.generations_reconcile",
        "schedule": 24 * 60 * 60.0,
        "options": {"expires": min(15 * 60, CELERY_VISIBILITY_TIMEOUT // 4)},
    },
}

# Oxen and Seedream. With no key the run command starts the local simulator and says so; the
# app never falls back to it on its own (see gallery.oxen).
OXEN_API_KEY = env_str("OXEN_API_KEY")
OXEN_SIMULATOR = env_bool("OXEN_SIMULATOR", False)
OXEN_BASE_URL = env_url("OXEN_BASE_URL", "https://hub.oxen.ai")
OXEN_MODEL = env_str("OXEN_MODEL", "bytedance-seedream-4-5") or "bytedance-seedream-4-5"
OXEN_TARGET_NAMESPACE = env_str("OXEN_TARGET_NAMESPACE")
OXEN_TIMEOUT = env_float("OXEN_TIMEOUT", 30.0, minimum=1.0)
OXEN_DOWNLOAD_MAX_BYTES = env_int("OXEN_DOWNLOAD_MAX_BYTES", 64 * 1024 * 1024, minimum=1024)
OXEN_DOWNLOAD_HOSTS = env_list("OXEN_DOWNLOAD_HOSTS", [])
# Follow a result's redirects to any public https host (a CDN), never with the key; false:
# only to OXEN_DOWNLOAD_HOSTS. A refused result is kept upstream: Retry download after a change.
OXEN_DOWNLOAD_PUBLIC_REDIRECTS = env_bool("OXEN_DOWNLOAD_PUBLIC_REDIRECTS", True)
OXEN_REFERENCE_HOSTING = env_choice(
    "OXEN_REFERENCE_HOSTING", "inline", ("inline", "oxen-repo", "signed-url")
)
OXEN_REFERENCE_REPO = env_str("OXEN_REFERENCE_REPO")
if OXEN_REFERENCE_HOSTING == "oxen-repo" and OXEN_REFERENCE_REPO.count("/") != 1:
    raise ImproperlyConfigured(
        "OXEN_REFERENCE_REPO: oxen-repo hosting needs a public repository as namespace/repo"
    )
GENERATION_DEADLINE_MINUTES = env_int("GENERATION_DEADLINE_MINUTES", 30, minimum=1)
# POSTs of one image that Oxen did not refuse; another is sent only after Oxen proved the last
# one created nothing. Refusals (429, no connection) are waits: only the deadline ends them.
GENERATION_MAX_ATTEMPTS = env_int("GENERATION_MAX_ATTEMPTS", 5, minimum=1)
# How long an unconfirmed POST is looked for upstream before its absence counts as proof.
GENERATION_ORPHAN_GRACE_SECONDS = env_int("GENERATION_ORPHAN_GRACE_SECONDS", 60, minimum=1)
# A generation left this long in a waiting state (its task lost to a crash) is driven again.
GENERATION_STALE_SECONDS = env_int("GENERATION_STALE_SECONDS", 60, minimum=1)
if OXEN_SIMULATOR and not OXEN_API_KEY:
    raise ImproperlyConfigured("OXEN_API_KEY: the simulator needs a key too (bin/run sets one)")

# Spend (gallery.budget, issue 11). Generate requests (form, Retry, Re-run) one member may make
# per minute, whatever the budget (0: no limit); past it they are answered 429.
GENERATE_BURST_PER_MINUTE = env_int("GENERATE_BURST_PER_MINUTE", 20, minimum=0)
CELERY_BEAT_SCHEDULE["budget-costs-backfill"] = {
    # Billed costs Oxen did not report at ingest, asked again; reservations trued up.
    "task": "gallery.tasks.budget_costs_backfill",
    "schedule": 60.0,
    "options": {"expires": 50},
}
# Email (budget alerts, issue 11; proofing digests, issue 16), in Django 6.1's MAILERS. Without
# EMAIL_HOST, mail is written to the log (gallery.mail), so a local run shows it instead of
# dropping it.
_email_host = env_str("EMAIL_HOST", "")
MAILERS = {
    "default": (
        {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": env_int("EMAIL_PORT", 587, minimum=1),
                "username": env_str("EMAIL_HOST_USER", ""),
                "password": env_str("EMAIL_HOST_PASSWORD", ""),  # or EMAIL_HOST_PASSWORD_FILE
                "use_tls": env_bool("EMAIL_USE_TLS", True),
                "timeout": 20,
            },
        }
        if _email_host
        else {"BACKEND": "gallery.mail.LogEmailBackend"}
    )
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Seedream Gallery <gallery@localhost>")
# A link's author gets one digest per burst of proofing activity: the first pick or comment
# opens a window of this many seconds, and everything in it goes out in one email.
PROOFING_DIGEST_DELAY = env_int("PROOFING_DIGEST_DELAY", 300, minimum=10)
# The JSON API (issue 12): per-token requests a minute (apart from the browser's limits), and
# the private hosts (names or addresses) webhooks may be sent to: only public https addresses
# otherwise, checked as result downloads are (seedream.urlpolicy).
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 120, minimum=1)
WEBHOOK_PRIVATE_HOSTS = env_list("WEBHOOK_PRIVATE_HOSTS", [])
CELERY_BEAT_SCHEDULE["webhooks-sweep"] = {
    "task": "gallery.tasks.webhooks_sweep",
    "schedule": 60.0,
    "options": {"expires": 50},
}
CELERY_BEAT_SCHEDULE["idempotency-keys-expire"] = {
    "task": "gallery.tasks.idempotency_keys_expire",
    "schedule": 60 * 60.0,
    "options": {"expires": 15 * 60},
}

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
# Every line goes through gallery.logging's filter: no Oxen key and no secret link's token
# (/s/, /join/, /r/) in any log. Gunicorn's own logs get it from --logger-class.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "gallery.logging.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers (its console handler in DEBUG, runserver's request log) would
        # write records without the redaction: drop them, and let everything reach the root.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# -- Speed at scale (issue 15) ---------------------------------------------------------------
# Results are ingested on a queue of their own, by a worker of their own (Procfile `ingest`,
# docker-compose `ingest`) with several slots, so a burst of completions never waits behind
# submissions and polls; the 1600 px preview (detail page only) is made after, on a
# low-priority queue the main worker serves between its short tasks. A worker started without
# -Q serves all three (the tests' workers do).
CELERY_INGEST_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-ingest"
CELERY_PREVIEW_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-preview"
CELERY_TASK_QUEUES = [
    Queue(name) for name in (CELERY_TASK_DEFAULT_QUEUE, CELERY_INGEST_QUEUE, CELERY_PREVIEW_QUEUE)
]
CELERY_TASK_ROUTES = {
    "gallery.tasks.generation_ingest": {"queue": CELERY_INGEST_QUEUE},
    "gallery.tasks.generation_completed": {"queue": CELERY_INGEST_QUEUE},
    "gallery.tasks.image_preview_make": {"queue": CELERY_PREVIEW_QUEUE},
}
# Sessions in the cache, written through to the database (issue 15): a page reads no session
# row while Redis holds it. Without Redis the file cache would gain nothing: database only.
if REDIS_URL:
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Signed thumbnail URLs also carry nginx's secure_link signature with this secret, when set:
# the compose file's proxy then serves them itself (deploy/nginx/gallery.conf.template).
THUMBNAIL_PROXY_SECRET = env_str("THUMBNAIL_PROXY_SECRET")
