-- Accounts: users, their tokens (only hashes), their roles on projects, and the audit log.
CREATE TABLE users (
    name           TEXT PRIMARY KEY,
    password_hash  TEXT,                 -- Argon2id PHC string; NULL: tokens only
    admin          BIGINT NOT NULL DEFAULT 0,
    disabled       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL
);

CREATE TABLE tokens (
    id            TEXT PRIMARY KEY,
    user_name     TEXT NOT NULL REFERENCES users(name),
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,         -- 'api' | 'session'
    hash          TEXT NOT NULL UNIQUE,  -- SHA-256 of the token (hex)
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX tokens_user ON tokens(user_name);

CREATE TABLE members (
    project     TEXT NOT NULL REFERENCES projects(name),
    user_name   TEXT NOT NULL REFERENCES users(name),
    role        TEXT NOT NULL,           -- 'viewer' | 'editor' | 'owner'
    granted_at  BIGINT NOT NULL,
    granted_by  TEXT,
    PRIMARY KEY (project, user_name)
);
CREATE INDEX members_user ON members(user_name);

-- Append-only: nothing updates or deletes these rows.
CREATE TABLE audit (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    user_name   TEXT,
    action      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    project     TEXT,
    status      BIGINT NOT NULL,
    outcome     TEXT NOT NULL,
    client      TEXT NOT NULL
);
CREATE INDEX audit_project ON audit(project, id);
CREATE INDEX audit_user ON audit(user_name, id);
