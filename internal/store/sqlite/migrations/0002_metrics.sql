-- Metric buckets of every resolution (see internal/metrics).
CREATE TABLE metric_buckets (
    series TEXT NOT NULL,    -- canonical series id
    doc    TEXT NOT NULL,    -- the series (namespace, name, dimensions) as JSON
    unit   TEXT NOT NULL,
    step   INTEGER NOT NULL, -- resolution in seconds
    start  INTEGER NOT NULL, -- unix seconds
    count  REAL NOT NULL,
    sum    REAL NOT NULL,
    min    REAL NOT NULL,
    max    REAL NOT NULL,
    sketch BLOB,
    PRIMARY KEY (series, step, start)
);
CREATE INDEX metric_buckets_age ON metric_buckets (step, start);
