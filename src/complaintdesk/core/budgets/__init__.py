"""Budgets domain."""
