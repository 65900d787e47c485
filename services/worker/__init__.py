"""The worker service: Celery workers for the uploads, imports and deletes queues."""
