-- Documents (models, configurations, endpoints, targets, policies, alarms...):
-- names are unique without regard to case, as SageMaker's are (key is the
-- lower-case name).
CREATE TABLE resources (
    kind    TEXT NOT NULL,
    key     TEXT NOT NULL,
    name    TEXT NOT NULL,
    created BIGINT NOT NULL, -- unix nanoseconds
    doc     BYTEA NOT NULL,
    PRIMARY KEY (kind, key)
);

CREATE TABLE tags (
    arn   TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    seq   BIGINT NOT NULL,
    PRIMARY KEY (arn, key)
);

-- Metric buckets of every resolution (see internal/metrics).
CREATE TABLE metric_buckets (
    series BYTEA NOT NULL, -- canonical series id (holds NUL separators)
    doc    BYTEA NOT NULL,
    unit   TEXT NOT NULL,
    step   BIGINT NOT NULL,
    start  BIGINT NOT NULL,
    count  DOUBLE PRECISION NOT NULL,
    sum    DOUBLE PRECISION NOT NULL,
    min    DOUBLE PRECISION NOT NULL,
    max    DOUBLE PRECISION NOT NULL,
    sketch BYTEA,
    PRIMARY KEY (series, step, start)
);
CREATE INDEX metric_buckets_age ON metric_buckets (step, start);

CREATE TABLE alarm_history (
    seq     BIGSERIAL PRIMARY KEY,
    alarm   TEXT NOT NULL,
    ts      BIGINT NOT NULL,
    type    TEXT NOT NULL,
    summary TEXT NOT NULL,
    data    TEXT NOT NULL
);
CREATE INDEX alarm_history_alarm ON alarm_history (alarm, ts);

CREATE TABLE scaling_activities (
    seq    BIGSERIAL,
    id     TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    start  BIGINT NOT NULL,
    doc    BYTEA NOT NULL
);
CREATE INDEX scaling_activities_target ON scaling_activities (target, start);

CREATE TABLE async_requests (
    seq      BIGSERIAL PRIMARY KEY,
    endpoint TEXT NOT NULL,
    state    TEXT NOT NULL,
    doc      BYTEA NOT NULL
);
CREATE INDEX async_requests_open ON async_requests (state, seq);
