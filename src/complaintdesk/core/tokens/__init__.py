"""Tokens domain."""
