package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// stmts prepares each query once per pool and keeps it: SQLite would
// otherwise parse and plan the same statement on every call, which on a
// busy server costs more than running it.
type stmts struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmts(db *sql.DB) *stmts { return &stmts{db: db, m: map[string]*sql.Stmt{}} }

// get returns q prepared on the pool.
func (c *stmts) get(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.m[q]; st != nil {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.m[q] = st
	return st, nil
}

// exec runs q within tx, as a prepared statement when q was prepared
// with prepare. It never prepares one itself: the writer pool has a
// single connection, which tx holds, so preparing on the pool would wait
// for tx forever.
func (c *stmts) exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	c.mu.Lock()
	st := c.m[q]
	c.mu.Unlock()
	if st == nil {
		return tx.ExecContext(ctx, q, args...)
	}
	return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// prepare prepares queries on the pool ahead of use.
func (c *stmts) prepare(ctx context.Context, queries ...string) error {
	for _, q := range queries {
		if _, err := c.get(ctx, q); err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
	}
	return nil
}

// queryRow runs q on the pool as a prepared statement.
func (c *stmts) queryRow(ctx context.Context, q string, args ...any) (*sql.Row, error) {
	st, err := c.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}

func (c *stmts) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}
