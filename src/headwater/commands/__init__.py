"""CLI command modules registered in headwater.cli (tail, replay, db, realtime)."""
