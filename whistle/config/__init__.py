"""Living configuration: published versions on a compacted topic, followed by every process.

``versions`` is pure (what a version holds, which one is in force at an instant, how one is
made from a proposal); ``follower`` follows and publishes on Kafka; ``store`` is the
PostgreSQL read model and the publish serialisation point; ``service`` is what the API uses.
"""
