"""advisor.ci: talking to CI services (the GitHub pull-request comment)."""
