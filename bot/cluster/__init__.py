"""``make cluster``: Rasa replicas and action servers behind HAProxy on PostgreSQL and Redis."""
