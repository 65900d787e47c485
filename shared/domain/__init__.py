"""glint's domain model: images, jobs, their state tables, events and policy.

Nothing in this package imports Flask, Celery, kombu, SQLAlchemy or structlog.
"""
