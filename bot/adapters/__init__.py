"""Adapters: platform events in, rendered answers out; only they import platform SDKs."""
