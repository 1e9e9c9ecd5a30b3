"""Relabeling: push suspect records to a relabel project and write corrections back (issue #5)."""
