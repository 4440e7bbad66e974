"""The GraphQL schema: root types merged from one package per domain, the context,
typed errors, loaders and pagination."""
