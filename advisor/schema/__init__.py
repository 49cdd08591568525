"""advisor.schema stage."""
