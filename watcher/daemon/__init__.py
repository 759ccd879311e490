"""Running as a service: the scheduler, health, logging."""
