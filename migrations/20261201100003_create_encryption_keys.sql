-- The encryption key Courier generates when COURIER_ENCRYPTION_KEY is unset. Keeping the key
-- beside the data it protects only guards against leaks of single columns (a log line, a
-- Redis dump, a partial export), which is why Courier warns at every start until the
-- variable is set. Once it is set, the keys here still decrypt; after the re-encryption pass
-- nothing needs them and the rows can be deleted.

CREATE TABLE encryption_keys (
    -- The key's id as it appears in sealed values (`enc:v1:<id>:...`).
    id         text        PRIMARY KEY,
    -- Base64 of the 32 key bytes.
    key_b64    text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
