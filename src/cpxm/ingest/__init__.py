"""Ingest: files and pushed events into the store, every row stored or quarantined."""

# Rows per committed batch. Each commit rewrites every index page its rows touched, and rows
# land all over the interactions indexes: a million call reports cost SQLite 88 CPU seconds in
# batches of 2,000 and 59 in batches of 10,000 (benchmarks/import_load.py). A killed import
# redoes at most one batch.
BATCH_SIZE = 10_000
