-- Per-request metrics that follower replicas measured, waiting for the
-- leader to take them into its metric store (see internal/replica).
CREATE TABLE metric_inbox (
    seq BIGSERIAL PRIMARY KEY,
    doc BYTEA NOT NULL
);
