"""The auth worker: login, logout, tokens, sessions and kicks of older sessions."""
