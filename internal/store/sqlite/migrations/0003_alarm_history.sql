-- CloudWatch alarm history (kept two weeks; see internal/monitor).
CREATE TABLE alarm_history (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    alarm   TEXT NOT NULL,
    ts      INTEGER NOT NULL, -- unix nanoseconds
    type    TEXT NOT NULL,    -- ConfigurationUpdate, StateUpdate, Action
    summary TEXT NOT NULL,
    data    TEXT NOT NULL
);
CREATE INDEX alarm_history_alarm ON alarm_history (alarm, ts);
