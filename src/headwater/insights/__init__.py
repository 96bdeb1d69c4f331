"""Insights (issue 19): questions over the events with filters and breakdowns, beyond the fixed
metrics. Trends first: request.py checks a query, trend.py answers it over the lake (docs/insights.md)."""
