"""Sync domain."""
