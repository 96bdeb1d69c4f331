"""Batch analytics: the daily ETL from the event log to the Parquet lake, archives, scheduler."""
