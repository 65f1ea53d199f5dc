"""Models of the context area: none yet (see the issue that builds this area)."""
