"""SLA clocks: per-channel deadlines, warnings and breaches (C6)."""
