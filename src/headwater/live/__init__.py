"""The live layer: the "live" tailer folding the event log into the live store, and its queries."""
