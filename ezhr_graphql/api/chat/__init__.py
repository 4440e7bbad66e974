"""GraphQL chat domain."""
