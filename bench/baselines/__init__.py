"""Baseline servers that fan out the same messages as the gateway, for comparison."""
