"""Pages of the use-case area: briefs (list, detail, lifecycle, scores), the portfolio
(ranking, chart, weights) and the AI PRD (versions, requirements, traceability)."""
