"""Settings, one module per environment.

``base`` holds everything and reads the environment (see ``.env.example``); ``local``,
``production`` and ``test`` only override. Defaults work with no database or broker server at all:
SQLite and a filesystem Celery broker under ``var/``.
"""
