"""The clinic's production settings, plus what only the benchmark needs.

``benchmarks.run`` sets the environment (DEBUG off, a throwaway SECRET_KEY, the benchmark's own
database) before anything imports this. Everything below is an addition or a benchmark-only
override; the app and middleware are the clinic's own.
"""

from clinic.settings import *  # noqa: F403
from clinic.settings import BASE_DIR, INSTALLED_APPS, MIDDLEWARE, TWITCH_INTAKE

INSTALLED_APPS = [*INSTALLED_APPS, "formtools", "benchmarks"]
# Outermost, so that the time it reports covers every other middleware too.
MIDDLEWARE = ["benchmarks.middleware.ServerTimingMiddleware", *MIDDLEWARE]
ROOT_URLCONF = "benchmarks.urls"

# Plain HTTP on 127.0.0.1 stands in for the TLS proxy of a real deployment: no redirect to
# https. Cookies stay ``Secure`` as in production; the benchmark's client sends them anyway.
SECURE_SSL_REDIRECT = False

# Collected here, not into the host's staticfiles/ (benchmarks/results/ is git-ignored).
STATIC_ROOT = BASE_DIR / "benchmarks" / "results" / "static"

# Simulated patients all come from 127.0.0.1; the limits are for guessing, not for load.
TWITCH_INTAKE = {
    **TWITCH_INTAKE,
    "SELF_START": True,
    "RATE_LIMIT": 10**9,
    "ALERT_EMAILS": ["on-call@clinic.example"],
}
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
