"""The JSON API (issue 12): personal access tokens, their auth and scopes, problem details,
idempotent submits, per-token rate limits and signed webhooks.

Each domain's endpoints live in its own ``api.py`` router (``gallery/generation/api.py``, …),
at the view layer, calling the same ``access_*`` functions, selectors and services as the
pages; ``urls.py`` here mounts them on one ``NinjaAPI`` at ``/api/v1/``."""
