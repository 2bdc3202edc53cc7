"""Outbound webhooks: Standard Webhooks 1.0 signed CloudEvents delivered to departments."""
