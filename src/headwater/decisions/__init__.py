"""The OpenRTB decision log: one JSON line per enrichment decision, for analysis (docs/targeting.md).

`record.py` holds the record (fields, consent mapping, sampling, formatting: pure), `writer.py` the
service an HTTP worker runs: the request path appends a small tuple to a buffer, a thread of the
worker writes ``decisions-YYYYMMDD.<writer>.jsonl`` beside the event log. The daily ETL loads the
files into the lake (headwater.batch.decisions).
"""
