"""Media domain."""
