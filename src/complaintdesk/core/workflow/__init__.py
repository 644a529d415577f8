"""Operator workflow: assignment, tags, internal notes, read state, saved views, inbox queries."""
