"""Pages of the evals area: home, targets and egress, plans and cases, runs and results."""
