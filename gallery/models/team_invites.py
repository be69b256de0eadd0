"""Invitation links: an owner or admin invites someone into the team with a role."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from gallery.models.accounts import Membership, Team, User


class Invitation(models.Model):
    """A link that lets whoever holds it join ``team`` once, with ``role``.

    Only the SHA-256 of the token is stored; the link itself is shown once, when it is made.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"invitation to {self.team_id} as {self.role}"

    @property
    def is_active(self) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > timezone.now()
