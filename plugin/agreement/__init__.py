"""Batch agreement: double-annotate a sample of every import batch and measure kappa/alpha (issue #5)."""
