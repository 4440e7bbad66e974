"""What an operation must pass before it runs: authentication, document limits, cost,
rate limits and persisted queries; one path (:mod:`.gate`) serves both transports."""
