from django.apps import AppConfig


class CasesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cases"
    verbose_name = "Cases"

    def ready(self) -> None:
        # Logins reach the audit log through auth's signals, the only hook auth offers.
        from cases.audit import receivers

        receivers.connect()
