"""Opsdesk settings: one module, read from the environment only.

Every variable is documented in docs/configuration.md. Defaults run the embedded
single-machine setup (SQLite, local Qdrant, in-memory channel layer); production sets
DATABASE_URL, REDIS_URL, QDRANT_URL, LLM_BACKENDS and the LDAP variables.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from portal.env import (
    env_bool,
    env_float,
    env_int,
    env_json,
    env_list,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("OPSDESK_VAR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_secret("SECRET_KEY")
    if key:
        return key
    # A local run gets a key generated once and kept in var/ (never committed), so sessions
    # survive restarts without anyone having to invent a secret.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=60)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "channels",
    "django_htmx",
    "axes",
    "apps.accounts",
    "apps.inference",
    "apps.knowledge",
    "apps.chat",
    "apps.scenarios",
    "apps.capacity",
]

MIDDLEWARE = [
    "portal.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ from the ASGI process, so one command runs the whole portal.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.locale.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.accounts.context.portal",
            ],
        },
    }
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'opsdesk.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
except Exception as exc:  # dj_database_url raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, Celery broker, shared cache ---------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 5000, "expiry": 60},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_PREFIX", "opsdesk"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # One process only: fine for a laptop, and the reason production must set REDIS_URL.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL or env_bool("CELERY_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 5
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- vectors ---------------------------------------------------------------------------------
QDRANT_URL = env_str("QDRANT_URL")
QDRANT_API_KEY = env_secret("QDRANT_API_KEY")
QDRANT_PATH = env_str("QDRANT_PATH", str(VAR_DIR / "qdrant"))
# Embedded engine at QDRANT_PATH: "local" (qdrant-client's local mode) or "edge" (Qdrant Edge,
# the Rust engine in-process: fast past ~10k chunks). Ignored when QDRANT_URL is set.
QDRANT_ENGINE = env_str("QDRANT_ENGINE", "edge")
if QDRANT_ENGINE not in ("local", "edge"):
    raise ImproperlyConfigured("QDRANT_ENGINE must be local or edge")
QDRANT_COLLECTION = env_str("QDRANT_COLLECTION", "opsdesk")
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "")  # empty: the packaged all-MiniLM-L6-v2
RERANKER_MODEL = env_str("RERANKER_MODEL", "")  # empty: no cross-encoder reranking
KNOWLEDGE_SECRET_KEY = env_secret("KNOWLEDGE_SECRET_KEY")
KNOWLEDGE_MAX_FILE_MB = env_int("KNOWLEDGE_MAX_FILE_MB", 50, minimum=1)
# torch | onnx | onnx-int8 (an ONNX export of the same model, made once under var/models/)
EMBEDDING_BACKEND = env_str("EMBEDDING_BACKEND", "onnx-int8")
if EMBEDDING_BACKEND not in ("torch", "onnx", "onnx-int8"):
    raise ImproperlyConfigured("EMBEDDING_BACKEND must be torch, onnx or onnx-int8")
KNOWLEDGE_MIN_RELEVANCE = env_float("KNOWLEDGE_MIN_RELEVANCE", 0.5)
# Run index jobs in the calling process and wait (commands, tests); see apps/knowledge/tasks.py.
KNOWLEDGE_JOBS_INLINE = env_bool("KNOWLEDGE_JOBS_INLINE", False)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- LLM backends ----------------------------------------------------------------------------
LLM_BACKENDS = env_json("LLM_BACKENDS", [])
if not isinstance(LLM_BACKENDS, list):
    raise ImproperlyConfigured("LLM_BACKENDS must be a JSON list of backend objects")
LLM_CONNECT_TIMEOUT = env_float("LLM_CONNECT_TIMEOUT", 3.0)
LLM_READ_TIMEOUT = env_float("LLM_READ_TIMEOUT", 60.0)
LLM_POLL_INTERVAL = env_float("LLM_POLL_INTERVAL", 5.0)
LLM_COOLDOWN_SECONDS = env_float("LLM_COOLDOWN_SECONDS", 30.0)
# Encrypts backend API keys at rest; empty: a key derived from SECRET_KEY.
LLM_SECRET_KEY = env_secret("LLM_SECRET_KEY")
# Poll backends from the ASGI process; off when a dedicated `manage.py llm_poller` runs.
LLM_POLL_IN_WEB = env_bool("LLM_POLL_IN_WEB", True)
CHAT_MAX_CONCURRENT_STREAMS = env_int("CHAT_MAX_CONCURRENT_STREAMS", 3, minimum=1)
CHAT_MESSAGES_PER_MINUTE = env_int("CHAT_MESSAGES_PER_MINUTE", 20, minimum=1)
PROMETHEUS_URL = env_str("PROMETHEUS_URL")
DCGM_EXPORTER_URL = env_str("DCGM_EXPORTER_URL")
# Cluster dashboard (apps/capacity, docs/capacity.md): how Prometheus series map to backends,
# the HA requirement per tier, and the planned deployment to compare measurements with.
PROMETHEUS_BACKEND_SELECTOR = env_str("PROMETHEUS_BACKEND_SELECTOR", 'instance="{hostport}"')
CAPACITY_HA_SPARES = env_int("CAPACITY_HA_SPARES", 1, minimum=0)
CAPACITY_TIER_REPLICAS = env_json("CAPACITY_TIER_REPLICAS", {})
CAPACITY_PLANNED = env_json("CAPACITY_PLANNED", {})

# --- accounts, LDAP, lockout -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

LDAP_SERVER_URI = env_str("LDAP_SERVER_URI")
LDAP_ADMIN_GROUPS = env_list("LDAP_ADMIN_GROUPS", [])
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend"]
if LDAP_SERVER_URI:
    from apps.accounts.ldap_config import ldap_settings

    globals().update(ldap_settings())
    AUTHENTICATION_BACKENDS.append("django_auth_ldap.backend.LDAPBackend")
AUTHENTICATION_BACKENDS.append("django.contrib.auth.backends.ModelBackend")

AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

# --- i18n --------------------------------------------------------------------------------------
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env_str("TIME_ZONE", "Europe/Moscow")
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Tests and a DEBUG run serve static files from the source tree without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django_auth_ldap": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}
