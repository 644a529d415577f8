"""Reply templates rendered in a sandbox with a whitelist of variables."""
