"""The notifier service: relays the transactional outbox to the bus."""
