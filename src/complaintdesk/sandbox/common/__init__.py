"""Building blocks shared by the upstream simulators (never by the channel clients)."""
