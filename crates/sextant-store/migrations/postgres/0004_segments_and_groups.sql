-- Segments: named filter expressions over a project's datasets.
CREATE TABLE segments (
    project        TEXT NOT NULL REFERENCES projects(name),
    name           TEXT NOT NULL,
    expression     TEXT NOT NULL,
    segment_group  TEXT,                  -- NULL: in no group
    protected      BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    created_by     TEXT,
    PRIMARY KEY (project, name)
);

-- Feature groups: named sets of a project's features, reported together.
CREATE TABLE feature_groups (
    project     TEXT NOT NULL REFERENCES projects(name),
    name        TEXT NOT NULL,
    features    TEXT NOT NULL,           -- JSON array of feature names
    created_at  BIGINT NOT NULL,
    created_by  TEXT,
    PRIMARY KEY (project, name)
);
