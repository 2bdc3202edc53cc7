-- Configuration versions for the admin views: one row per published version, with its
-- metadata and the whole snapshot. The truth is the configuration topic; the API fills this
-- table from what it has read there (so a rebuild that swaps the schema refills it).

CREATE TABLE config_versions (
    version        integer PRIMARY KEY CHECK (version >= 1),
    author         text NOT NULL,
    published_at   timestamptz NOT NULL,
    reason         text NOT NULL,
    effective_from timestamptz NOT NULL,
    kinds          text[] NOT NULL,
    rules_version  text NOT NULL,
    policy_version text NOT NULL,
    document       jsonb NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX config_versions_kinds ON config_versions USING gin (kinds);
