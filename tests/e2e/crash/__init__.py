"""The crash matrix: every write crashed after Stripe answered, restarted and retried."""
