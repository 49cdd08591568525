"""advisor.suggest stage."""
