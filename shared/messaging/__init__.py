"""Message bus adapters: broker connections, the Celery app, job dispatch and event publishing."""
