-- Async inference requests: the durable queue (see internal/asyncinv).
CREATE TABLE async_requests (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint TEXT NOT NULL COLLATE NOCASE,
    state    TEXT NOT NULL, -- queued, running, done
    doc      TEXT NOT NULL
);
CREATE INDEX async_requests_open ON async_requests (state, endpoint, seq);
