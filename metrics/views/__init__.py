"""Pages of the metrics area."""
