"""The Django admin, one module per domain; Django's autodiscovery imports this one."""

from gallery.accounts import admin as accounts_admin
from gallery.budget import admin as budget_admin
from gallery.collection import admin as collection_admin
from gallery.generation import admin as generation_admin
from gallery.review import admin as review_admin
from gallery.sharing import admin as sharing_admin
from gallery.team import admin as team_admin

__all__ = [
    "accounts_admin",
    "budget_admin",
    "collection_admin",
    "generation_admin",
    "review_admin",
    "sharing_admin",
    "team_admin",
]
