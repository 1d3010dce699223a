-- The event-type catalog: the concrete types a producer offers, with an optional JSON Schema
-- that ingested payloads can be checked against (COURIER_VALIDATE_PAYLOADS). `version` goes
-- up on every change, so each node recompiles only the schemas that changed.

CREATE TABLE event_types (
    name        text        PRIMARY KEY,
    description text        NOT NULL DEFAULT '',
    schema      jsonb,
    example     jsonb,
    deprecated  boolean     NOT NULL DEFAULT false,
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
