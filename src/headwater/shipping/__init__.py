"""Log shipping: closed log files uploaded to object storage, verified, recorded in a manifest, and
deleted locally only when raw-log retention allows it (docs/scale-out.md, "Log shipping")."""
