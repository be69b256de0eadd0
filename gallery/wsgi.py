"""WSGI entry point (gunicorn gallery.wsgi)."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gallery.settings")

try:
    django_application = get_wsgi_application()
    from gallery.media.middleware import SignedMediaWSGI

    # Signed thumbnail URLs are answered before Django builds a request (issue 15).
    application = SignedMediaWSGI(django_application)
except ImproperlyConfigured as exc:
    sys.stderr.write(f"configuration error: {exc}\n")
    raise SystemExit(2) from None
