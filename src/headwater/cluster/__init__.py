"""Several hosts, one pipeline (docs/scale-out.md): job leases, the pipeline's view of every host's
log, the lake mirrored through the object store, and the cluster's status."""
