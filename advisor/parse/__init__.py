"""advisor.parse stage."""
