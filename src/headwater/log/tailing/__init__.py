"""Tailers: consumers of the event log that apply each batch exactly once to a target store.

batch.py holds the contract with a target; tailer.py the loop; turns.py how the tailers of a
process share their reads; service.py how a server runs one (a lock per tailer name, its status
on disk and in Prometheus).
"""
