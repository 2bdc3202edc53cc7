"""The pure case domain: commands, events, ``decide``/``evolve``, routing, SLA clocks."""
