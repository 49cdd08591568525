"""advisor.rules stage."""
