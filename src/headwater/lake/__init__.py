"""The Parquet lake as a store: its layout (layout.py), DuckDB over its files (sql.py), the
rollups the daily ETL writes into it (rollups/), and what a query reads from it (scope.py).

The batch jobs (headwater.batch) write it; metrics, experiment results and the audiences'
nightly recomputation read it through :class:`headwater.lake.scope.Scope`.
"""
