"""The service layer: one function per use case, called by the API, the worker and the scrubber.

Each handler takes the ``Services`` it needs and ids or validated input,
does policy, rules, state transitions and the commit in order, and raises
domain errors. None of them knows about HTTP or Celery.
"""
