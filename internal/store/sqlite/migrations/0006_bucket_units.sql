-- A unit belongs to each datapoint, so a bucket is a series' points of one
-- unit (see internal/metrics): the unit joins the key. Buckets stored
-- without a unit are the points published without one, "None".
CREATE TABLE metric_buckets_by_unit (
    series TEXT NOT NULL,    -- canonical series id
    doc    TEXT NOT NULL,    -- the series (namespace, name, dimensions) as JSON
    unit   TEXT NOT NULL,    -- "None" for points published without one
    step   INTEGER NOT NULL, -- resolution in seconds
    start  INTEGER NOT NULL, -- unix seconds
    count  REAL NOT NULL,
    sum    REAL NOT NULL,
    min    REAL NOT NULL,
    max    REAL NOT NULL,
    sketch BLOB,
    PRIMARY KEY (series, unit, step, start)
);
INSERT INTO metric_buckets_by_unit
    SELECT series, doc, CASE unit WHEN '' THEN 'None' ELSE unit END, step, start, count, sum, min, max, sketch FROM metric_buckets;
DROP TABLE metric_buckets;
ALTER TABLE metric_buckets_by_unit RENAME TO metric_buckets;
CREATE INDEX metric_buckets_age ON metric_buckets (step, start);
