"""The GraphQL layer: types, resolvers, loaders, the HTTP and websocket views."""
