"""advisor.capture stage."""
