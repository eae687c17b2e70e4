"""Development on one machine: DEBUG on, a throwaway key, mail printed to the console."""

from integrity.env import env_bool, env_list, env_str

from .base import *  # noqa: F403

DEBUG = env_bool("DJANGO_DEBUG", default=True)

# Public, so anything signed with it is forgeable: never use outside development.
INSECURE_DEV_SECRET_KEY = "django-insecure-slipcase-local-development-only-do-not-deploy-0123456789"  # noqa: S105
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or INSECURE_DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

# WhiteNoise warns about a missing STATIC_ROOT on every start; collectstatic fills it later.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
