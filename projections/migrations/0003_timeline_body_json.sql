-- The timeline keeps each event's raw JSON as `json` (text, checked for syntax) instead of
-- `jsonb`: PostgreSQL parsed every body into its binary form on insert, a large part of the
-- projector's write cost, and nothing queries inside the body (the API and time travel read it
-- whole). `json` also keeps the bytes exactly as logged. It has no equality operator: compare
-- bodies as text.
ALTER TABLE case_events ALTER COLUMN body TYPE json USING body::json;
