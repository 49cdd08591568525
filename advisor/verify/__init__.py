"""advisor.verify: the EXPLAIN (ANALYZE, BUFFERS) stage.

Given the suggested indexes, it fills a throwaway database (:mod:`advisor.sandbox`) with
data shaped like the user's, measures each affected query before and after creating the
index, and records the verdict on the suggestion. Nothing here runs on a user database.
"""
