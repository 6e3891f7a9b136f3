CREATE TABLE resources (
    kind    TEXT NOT NULL,
    name    TEXT NOT NULL COLLATE NOCASE,
    created INTEGER NOT NULL, -- unix nanoseconds
    doc     BLOB NOT NULL,
    PRIMARY KEY (kind, name)
);

CREATE TABLE tags (
    arn   TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    seq   INTEGER NOT NULL,
    PRIMARY KEY (arn, key)
);
