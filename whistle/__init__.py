"""Whistle (吹哨): event-sourced case routing for grassroots governance."""

__version__ = "0.1.0"
