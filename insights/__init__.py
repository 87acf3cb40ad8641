"""Post-call insights (summary, outcome, objections, sentiment) and the analytics layer."""
