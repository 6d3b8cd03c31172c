"""The lake: the store's analytic facts as Parquet, for a data platform's Spark or warehouse."""
