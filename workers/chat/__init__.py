"""The chat worker: send (checks, sequence, persist, publish), pending, ack and history."""
