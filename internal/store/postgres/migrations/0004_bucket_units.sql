-- A unit belongs to each datapoint, so a bucket is a series' points of one
-- unit (see internal/metrics): the unit joins the key. Buckets stored
-- without a unit are the points published without one, "None".
UPDATE metric_buckets SET unit = 'None' WHERE unit = '';
ALTER TABLE metric_buckets DROP CONSTRAINT metric_buckets_pkey;
ALTER TABLE metric_buckets ADD PRIMARY KEY (series, unit, step, start);
