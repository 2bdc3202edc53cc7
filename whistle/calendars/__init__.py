"""Administration of the holiday calendar: checking a State Council notice (`whistle calendar`)."""
