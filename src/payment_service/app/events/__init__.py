"""Events for callers: what each state change is called (kinds), and the feed that lists
and streams the outbox (ListEvents, WatchEvents)."""
