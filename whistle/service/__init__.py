"""Running the whole service locally: the processes, readiness, demo data."""
