package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations are the schema's history: migrations[i] takes a database
// from version i to i+1. They only ever grow at the end; a released
// migration is never edited, because databases in the field have already
// run it.
//
// Identifiers are text COLLATE "C": ordering by id then compares bytes,
// as the SQLite store does, whatever the database's default collation.
var migrations = []string{
	// 1: credentials, attempts and leases.
	`
CREATE TABLE credentials (
	acs_credential_id text COLLATE "C" PRIMARY KEY,
	workspace_id      text COLLATE "C" NOT NULL,
	acs_system_id     text COLLATE "C" NOT NULL,
	acs_user_id       text COLLATE "C" NOT NULL,
	created_at        timestamptz NOT NULL,
	-- json, not jsonb: it keeps the text as written, and accepts every
	-- string encoding/json writes (jsonb refuses \u0000).
	body              json NOT NULL
);
CREATE INDEX credentials_by_workspace ON credentials (workspace_id, created_at, acs_credential_id);
CREATE INDEX credentials_by_system ON credentials (workspace_id, acs_system_id, created_at, acs_credential_id);
CREATE INDEX credentials_by_user ON credentials (workspace_id, acs_user_id, created_at, acs_credential_id);

CREATE TABLE attempts (
	id            text COLLATE "C" PRIMARY KEY,
	workspace_id  text COLLATE "C" NOT NULL,
	encoder_id    text COLLATE "C" NOT NULL,
	credential_id text COLLATE "C" NOT NULL,
	status        text NOT NULL CHECK (status IN ('pending', 'success', 'error')),
	created_at    timestamptz NOT NULL,
	deadline      timestamptz NOT NULL,
	finished_at   timestamptz,
	error_type    text NOT NULL DEFAULT '',
	error_message text NOT NULL DEFAULT '',
	result        json
);
-- Only pending attempts are ever looked up by status, and they are few
-- next to the finished ones, so the index holds just them, in the order
-- PendingAttempts returns them.
CREATE INDEX attempts_pending ON attempts (created_at, id) WHERE status = 'pending';

CREATE TABLE leases (
	name    text COLLATE "C" PRIMARY KEY,
	holder  text COLLATE "C" NOT NULL,
	expires timestamptz NOT NULL
);
`,
	// 2: events, written with the outcome or the delete that makes them.
	`
CREATE TABLE events (
	event_id          text COLLATE "C" PRIMARY KEY,
	workspace_id      text COLLATE "C" NOT NULL,
	event_type        text COLLATE "C" NOT NULL,
	occurred_at       timestamptz NOT NULL,
	acs_system_id     text COLLATE "C" NOT NULL,
	acs_credential_id text COLLATE "C" NOT NULL,
	body              json NOT NULL
);
CREATE INDEX events_by_workspace ON events (workspace_id, occurred_at, event_id);
`,
	// 3: webhooks and what each has delivered.
	`
CREATE TABLE webhooks (
	webhook_id    text COLLATE "C" PRIMARY KEY,
	registered_at timestamptz NOT NULL
);
CREATE TABLE webhook_deliveries (
	webhook_id text COLLATE "C" NOT NULL,
	event_id   text COLLATE "C" NOT NULL,
	delivered  boolean NOT NULL,
	at         timestamptz NOT NULL,
	PRIMARY KEY (webhook_id, event_id)
);
`,
	// 4: scans beside encodes; a scan's result is kept in result too.
	`
ALTER TABLE attempts ADD COLUMN action_type text COLLATE "C" NOT NULL DEFAULT 'ENCODE_CREDENTIAL';
`,
}

// SchemaVersion is the schema version this code writes and reads: the
// number of migrations.
const SchemaVersion = 4

// migrationLock is the key of the transaction-scoped advisory lock that
// serialises migrations: two processes opening one new database at once
// would otherwise both try to create the tables. The value is arbitrary
// and fixed ("encoderl" in ASCII); other programs on the same database
// are unlikely to pick it.
const migrationLock int64 = 0x656e636f6465726c

// migrate brings the database to SchemaVersion in one transaction, under
// the advisory lock, so a crash mid-way leaves it at its old version and
// a second process waits, then finds the work done.
func migrate(ctx context.Context, conn *pgx.Conn, where string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	// After Commit this is a no-op returning pgx.ErrTxClosed.
	defer func() { _ = tx.Rollback(context.Background()) }()

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS encoderlab_schema (version integer NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: version table: %w", err)
	}
	var v int
	err = tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM encoderlab_schema`).Scan(&v)
	if err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if v > SchemaVersion {
		return &SchemaVersionError{Database: where, Found: v, Supported: SchemaVersion}
	}
	if v == SchemaVersion {
		return nil
	}
	if len(migrations) != SchemaVersion {
		return fmt.Errorf("migrate: %d migrations for schema version %d", len(migrations), SchemaVersion)
	}
	for i := v; i < SchemaVersion; i++ {
		if _, err := tx.Exec(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrate: version %d to %d: %w", i, i+1, err)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM encoderlab_schema`); err != nil {
		return fmt.Errorf("migrate: set version: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO encoderlab_schema (version) VALUES ($1)`, SchemaVersion); err != nil {
		return fmt.Errorf("migrate: set version: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
