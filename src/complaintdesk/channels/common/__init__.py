"""Building blocks shared by the channel clients (never by the simulators)."""
