"""GraphQL catalog domain."""
