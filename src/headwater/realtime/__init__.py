"""The realtime aggregates (daily_stats, daily users, user_sessions): the "realtime" tailer folds the
log into the realtime store (headwater.stores.sql), exactly once; replay rebuilds it.

fold.py is the pure fold of a batch; rows.py turns log records into its rows; target.py applies a
batch in one transaction; service.py runs the tailer and the API's queries in a server; replay.py
rebuilds the store; answers.py shapes what the API and the CLI print.
"""
