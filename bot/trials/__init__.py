"""Inference trials, eval suites, scoring and the persistent job queue."""
