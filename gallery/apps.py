from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = "Seedream Gallery"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from gallery import checks  # noqa: F401 - registers system checks
        from gallery.sharing import linkstate  # noqa: F401 - keeps links' media state on save

        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            # The embedded broker is a set of folders; web, worker and beat all need them.
            for key in ("data_folder_in", "data_folder_out", "control_folder"):
                Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key])).mkdir(
                    parents=True, exist_ok=True
                )
