-- The fencing epoch: each new leader raises it (Fence), and a leader's
-- writes check it in their own transaction, so a deposed leader's late
-- writes are refused.
CREATE TABLE leader_epoch (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    epoch  BIGINT NOT NULL,
    holder TEXT NOT NULL
);
