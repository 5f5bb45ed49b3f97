"""Engines execute logical plans; the pandas engine is the default."""
