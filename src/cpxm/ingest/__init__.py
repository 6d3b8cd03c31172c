"""Ingest: files and pushed events into the store, every row stored or quarantined."""

# Rows per committed batch. Each commit rewrites every index page its rows touched, and rows
# land all over the interactions indexes: a million call reports cost SQLite 88 CPU seconds in
# batches of 2,000, 59 in batches of 10,000, and 28 in batches of 100,000, whose commits wrote
# 3.2 s of pages instead of 11.7 s (PostgreSQL: 1.76x its raw COPY instead of 1.93x;
# benchmarks/import_load.py). A killed import redoes at most one batch.
BATCH_SIZE = 100_000
