"""Business rules. Services raise domain errors, never commit, never import the API."""
