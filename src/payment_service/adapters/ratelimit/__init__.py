"""Rate limiters: GCRA in Redis (shared by replicas) with an in-process fallback."""
