"""Operator commands (``payment-service webhooks …``, ``payment-service reconcile``) and the
wiring of the webhook pipeline and the reconciler that the server and those commands share."""
