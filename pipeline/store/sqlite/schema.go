package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema's history: migrations[i] takes a database
// from user_version i to i+1. They only ever grow at the end; a released
// migration is never edited, because files in the field have already run
// it.
var migrations = []string{
	// 1: credentials and attempts.
	`
CREATE TABLE credentials (
	acs_credential_id TEXT PRIMARY KEY,
	workspace_id      TEXT NOT NULL,
	acs_system_id     TEXT NOT NULL,
	acs_user_id       TEXT NOT NULL,
	created_at        TEXT NOT NULL,
	body              TEXT NOT NULL CHECK (json_valid(body))
) STRICT;
CREATE INDEX credentials_by_workspace ON credentials (workspace_id, created_at, acs_credential_id);
CREATE INDEX credentials_by_system ON credentials (workspace_id, acs_system_id, created_at, acs_credential_id);
CREATE INDEX credentials_by_user ON credentials (workspace_id, acs_user_id, created_at, acs_credential_id);

CREATE TABLE attempts (
	id            TEXT PRIMARY KEY,
	workspace_id  TEXT NOT NULL,
	encoder_id    TEXT NOT NULL,
	credential_id TEXT NOT NULL,
	status        TEXT NOT NULL CHECK (status IN ('pending', 'success', 'error')),
	created_at    TEXT NOT NULL,
	deadline      TEXT NOT NULL,
	finished_at   TEXT,
	error_type    TEXT NOT NULL DEFAULT '',
	error_message TEXT NOT NULL DEFAULT '',
	result        TEXT CHECK (result IS NULL OR json_valid(result))
) STRICT;
-- Only pending attempts are ever looked up by status, and they are few
-- next to the finished ones, so the index holds just them, in the order
-- PendingAttempts returns them.
CREATE INDEX attempts_pending ON attempts (created_at, id) WHERE status = 'pending';
`,
	// 2: leases, so that several servers can share one file.
	`
CREATE TABLE leases (
	name    TEXT PRIMARY KEY,
	holder  TEXT NOT NULL,
	expires TEXT NOT NULL
) STRICT;
`,
	// 3: the store's own facts; store_id is its random id, also kept in
	// the sidecar file, so that a file replaced by another is noticed.
	`
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;
`,
	// 4: events, written with the outcome or the delete that makes them.
	`
CREATE TABLE events (
	event_id          TEXT PRIMARY KEY,
	workspace_id      TEXT NOT NULL,
	event_type        TEXT NOT NULL,
	occurred_at       TEXT NOT NULL,
	acs_system_id     TEXT NOT NULL,
	acs_credential_id TEXT NOT NULL,
	body              TEXT NOT NULL CHECK (json_valid(body))
) STRICT;
CREATE INDEX events_by_workspace ON events (workspace_id, occurred_at, event_id);
`,
	// 5: webhooks and what each has delivered.
	`
CREATE TABLE webhooks (
	webhook_id    TEXT PRIMARY KEY,
	registered_at TEXT NOT NULL
) STRICT;
CREATE TABLE webhook_deliveries (
	webhook_id TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	delivered  INTEGER NOT NULL CHECK (delivered IN (0, 1)),
	at         TEXT NOT NULL,
	PRIMARY KEY (webhook_id, event_id)
) STRICT;
`,
	// 6: scans beside encodes; a scan's result is kept in result too.
	`
ALTER TABLE attempts ADD COLUMN action_type TEXT NOT NULL DEFAULT 'ENCODE_CREDENTIAL';
`,
}

// SchemaVersion is the schema version, PRAGMA user_version, this code
// writes and reads: the number of migrations.
const SchemaVersion = 6

// migrate brings the database to SchemaVersion in one transaction, so a
// crash mid-way leaves the file at its old version, not half-migrated.
func migrate(ctx context.Context, db *sql.DB, path string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	// After Commit this is a no-op returning sql.ErrTxDone.
	defer func() { _ = tx.Rollback() }()

	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("migrate: read user_version: %w", err)
	}
	if v > SchemaVersion {
		return &SchemaVersionError{Path: path, Found: v, Supported: SchemaVersion}
	}
	if v < 0 {
		return fmt.Errorf("migrate: user_version is %d; this file was not written by encoderlab", v)
	}
	if v == SchemaVersion {
		return nil
	}
	if len(migrations) != SchemaVersion {
		return fmt.Errorf("migrate: %d migrations for schema version %d", len(migrations), SchemaVersion)
	}
	for i := v; i < SchemaVersion; i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrate: version %d to %d: %w", i, i+1, err)
		}
	}
	// PRAGMA takes no bound parameters; the value is an int we computed.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion)); err != nil {
		return fmt.Errorf("migrate: set user_version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
