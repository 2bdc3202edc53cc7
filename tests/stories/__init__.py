"""Case stories for tests and benchmarks: played through the domain (``domain``), or written
as wire-format events for the read side (``wire``)."""
