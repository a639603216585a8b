"""The message bus: subject names, payload types, response codes and the NATS connection."""
