-- Every subscription, message and delivery belongs to an application. Existing rows (and
-- rows written by a node not yet upgraded) fall into the built-in `default` application:
-- a constant default makes each ADD COLUMN a catalogue-only change (no table rewrite).
ALTER TABLE subscriptions ADD COLUMN application_id uuid NOT NULL
    DEFAULT '00000000-0000-0000-0000-000000000001';
ALTER TABLE messages ADD COLUMN application_id uuid NOT NULL
    DEFAULT '00000000-0000-0000-0000-000000000001';
ALTER TABLE deliveries ADD COLUMN application_id uuid NOT NULL
    DEFAULT '00000000-0000-0000-0000-000000000001';

-- Extra request headers, sealed with the key ring (`enc:v1:…`). The old `headers` column
-- keeps only what a node not yet upgraded wrote; the re-encryption pass at start moves it
-- here and empties it.
ALTER TABLE subscriptions ADD COLUMN headers_sealed text;
