"""The SQL store: SQLite embedded, PostgreSQL in production, chosen by the URL's scheme.

ports.py says what the features get (the realtime aggregates, write keys); dialect.py what
differs between the backends; database.py the one connection handle every SQL store uses;
realtime.py, keys.py and the catalogs (experiments, audiences, hourly) the stores themselves.
"""
