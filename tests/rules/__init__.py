"""Tests of advisor.rules: the registry, each rule, the golden cases and the rule docs."""
