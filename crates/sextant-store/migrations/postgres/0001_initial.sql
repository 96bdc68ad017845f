-- Sextant metastore, first version. Timestamps are Unix milliseconds (UTC).
CREATE TABLE projects (
    name        TEXT PRIMARY KEY,
    schema      TEXT NOT NULL,          -- JSON: ProjectSchema
    created_at  BIGINT NOT NULL
);

CREATE TABLE models (
    project     TEXT NOT NULL REFERENCES projects(name),
    name        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    summary     TEXT NOT NULL,          -- JSON: ModelSummary
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (project, name)
);
CREATE INDEX models_sha256 ON models(sha256);

CREATE TABLE datasets (
    project     TEXT NOT NULL REFERENCES projects(name),
    name        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    summary     TEXT NOT NULL,          -- JSON: DatasetSummary
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (project, name)
);
CREATE INDEX datasets_sha256 ON datasets(sha256);

CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    project       TEXT NOT NULL REFERENCES projects(name),
    kind          TEXT NOT NULL,
    model         TEXT NOT NULL,
    dataset       TEXT NOT NULL,
    spec          TEXT NOT NULL,        -- JSON: JobSpec (kind, inputs, options, resources)
    cache_key     TEXT NOT NULL,
    state         TEXT NOT NULL,
    reason        TEXT,
    progress      TEXT NOT NULL,        -- JSON: JobProgress
    attempt       BIGINT NOT NULL DEFAULT 0,
    token         TEXT,
    pid           BIGINT,
    lease_owner   TEXT,
    heartbeat_at  BIGINT,
    cached        BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    started_at    BIGINT,
    running_at    BIGINT,            -- when the current attempt's analyzer first reported
    finished_at   BIGINT
);
CREATE INDEX jobs_state ON jobs(state, created_at);
CREATE INDEX jobs_project ON jobs(project, created_at);
CREATE INDEX jobs_results ON jobs(project, model, dataset, kind, state);

-- The inputs a job uses, so a model or dataset in use by an active job cannot be deleted.
CREATE TABLE job_inputs (
    job_id   TEXT NOT NULL REFERENCES jobs(id),
    project  TEXT NOT NULL,
    kind     TEXT NOT NULL,             -- 'model' | 'dataset'
    name     TEXT NOT NULL
);
CREATE INDEX job_inputs_by_input ON job_inputs(project, kind, name);

CREATE TABLE results (
    cache_key   TEXT PRIMARY KEY,
    manifest    TEXT NOT NULL,          -- JSON: ResultManifest
    created_at  BIGINT NOT NULL
);
