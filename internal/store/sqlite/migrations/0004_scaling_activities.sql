-- Application Auto Scaling activities (kept six weeks; see internal/autoscaler).
CREATE TABLE scaling_activities (
    id     TEXT PRIMARY KEY,
    target TEXT NOT NULL, -- namespace|resource id|dimension
    start  INTEGER NOT NULL, -- unix nanoseconds
    doc    TEXT NOT NULL
);
CREATE INDEX scaling_activities_target ON scaling_activities (target, start);
