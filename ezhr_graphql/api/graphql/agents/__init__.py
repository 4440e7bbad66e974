"""GraphQL agents domain."""
