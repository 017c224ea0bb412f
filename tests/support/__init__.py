"""Helpers for tests: real brokers, free ports, waiting."""
