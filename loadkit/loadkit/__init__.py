"""The Singer loaders this project runs, with their per-record work done once per stream.

`loadkit-target-postgres` is MeltanoLabs target-postgres and `loadkit-target-duckdb` is
target-duckdb: the same settings, tables and SQL, faster on wide streams of many rows.
"""
