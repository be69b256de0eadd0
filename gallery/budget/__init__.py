"""Spend under control: team budgets, member quotas, the reservation ledger (issue 11)."""
