"""WSGI entry point (``gunicorn integrity.wsgi``). Defaults to production settings so that a
deployment that forgets DJANGO_SETTINGS_MODULE does not run with DEBUG on."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integrity.settings.production")

application = get_wsgi_application()
