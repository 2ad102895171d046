"""Payments (S10): the provider adapter, its implementations, and the webhooks' format."""
