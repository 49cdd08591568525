"""advisor.verify stage."""
