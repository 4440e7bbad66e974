"""The API: what clients see of the product.

- ``graphql``: the schema, its context and errors, one package per domain.
- ``transport``: the HTTP endpoint and the websocket view (parse, guard, execute).
- ``guards``: who is asking and what an operation may cost: limits, cost, rate
  limits, persisted queries, and the one path both transports call before running.

Imports flow ``transport -> graphql -> guards``.
"""
