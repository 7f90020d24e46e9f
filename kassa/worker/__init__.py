"""Workers: drain the job queue, sweep for due events and outbox messages, reconcile."""
