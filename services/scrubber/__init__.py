"""The scrubber service: purges delayed deletes, reaps lost jobs, removes orphaned staging data."""
