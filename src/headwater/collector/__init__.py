"""HTTP ingestion: routes, authentication, limits."""
