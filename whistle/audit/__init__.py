"""The audit log of administration: who changed which user, token, webhook endpoint or
configuration version, when, and what it was before and after (``whistle.audit.entries``)."""
