"""The rollups the daily ETL writes beside the events, one module each, and their readers.

Each rollup is a function of a received day's lake rows (``recv=YYYYMMDD.parquet``), so a day
loaded again rewrites exactly its own files; ``backfill`` fills a rollup added after a lake was
loaded.
"""
