"""Retention: how long each category of data is kept, and the job that enforces it."""
