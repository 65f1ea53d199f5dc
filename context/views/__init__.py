"""Pages of the context area, one module per noun."""
