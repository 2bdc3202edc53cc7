"""Read models of the case event log in PostgreSQL: projector, metrics, rebuild, time travel."""
