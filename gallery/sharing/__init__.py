"""Shared links: share images outside the team, with expiry, password and limits."""
