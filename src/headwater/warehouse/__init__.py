"""The warehouse export: every closed hour of the log into BigQuery, exactly once (docs/warehouse.md)."""
