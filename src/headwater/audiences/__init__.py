"""Audiences at run time: definitions, live membership (tailer), lookup, nightly recomputation."""
