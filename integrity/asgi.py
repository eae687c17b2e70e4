"""ASGI entry point. Defaults to production settings, as ``wsgi.py`` does."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integrity.settings.production")

application = get_asgi_application()
