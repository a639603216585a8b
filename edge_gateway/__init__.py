"""The edge gateway: WebSocket connections in, bus requests and fan-out out."""
