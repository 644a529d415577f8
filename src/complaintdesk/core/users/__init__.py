"""Console users, roles, scopes and sign-in."""
