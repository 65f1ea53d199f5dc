"""Models of the usecases area: none yet (see the issue that builds this area)."""
