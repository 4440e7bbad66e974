"""How operations arrive: GraphQL over HTTP and over websockets, GraphiQL, and the
request context of logs and metrics. Thin: read the request, call the guards, execute."""
