"""Benchmarks that print figures as JSON, each next to a baseline measured in the same run."""
