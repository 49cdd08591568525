"""advisor.report stage."""
