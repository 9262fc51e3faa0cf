"""The HTTP routes, one module per surface: jobs, workers, streams, reports, audit, ops."""
