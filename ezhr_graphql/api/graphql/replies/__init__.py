"""GraphQL replies domain: sending messages, streaming replies, stopping, branching, feedback."""
