"""Complaints domain."""
