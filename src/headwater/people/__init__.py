"""People and their events (issue 19, item 5): a person's profile, their event timeline, a search by
id or trait, and the latest events received (a stream for checking instrumentation).

Everything here reads what other parts store, and writes nothing:

- :mod:`headwater.people.stores`: the realtime rows, sticky assignments and audience memberships
  of a person (shared with the access export of privacy/access.py);
- :mod:`headwater.people.sources`: where a request reads (lake, log, realtime and live stores);
- :mod:`headwater.people.person`: who a person is: every id merged with the one asked for;
- :mod:`headwater.people.shown`: one event as shown, from the lake or from the log;
- :mod:`headwater.people.activity`: which lake files hold a person's rows (the rollups);
- :mod:`headwater.people.unloaded`: a person's events in the log the lake does not hold yet;
- :mod:`headwater.people.profile`: the profile (ids, traits, first and last seen, sessions,
  experiments, audiences);
- :mod:`headwater.people.timeline`: their events, newest first, a page at a time;
- :mod:`headwater.people.search`: people by id prefix or trait value;
- :mod:`headwater.people.latest`: the newest lines of the log, and following it.

DuckDB is imported only inside the functions that read the lake: the HTTP worker does not carry it.
"""
