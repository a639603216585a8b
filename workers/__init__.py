"""Worker pools: stateless request handlers in NATS queue groups, one package per kind."""
