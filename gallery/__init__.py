"""Seedream Gallery: the Django project and the app its users see."""

from gallery.celery import app as celery_app

__all__ = ["celery_app"]
