"""Models of the evals area: none yet (see the issue that builds this area)."""
