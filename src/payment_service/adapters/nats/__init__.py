"""NATS JetStream: the outbox relay and the event feed for many replicas (docs/scaling.md)."""
