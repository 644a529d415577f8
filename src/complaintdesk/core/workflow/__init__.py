"""Operator workflow: assignment, tags, internal notes, read state, saved views, phone reveal."""
