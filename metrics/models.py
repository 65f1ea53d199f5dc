"""Models of the metrics area: none yet (see the issue that builds this area)."""
