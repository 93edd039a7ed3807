package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// AttemptID returns a's ID quoted, for an error message; "<nil>" when a
// is nil, so that refusing a nil attempt still reads well.
func AttemptID(a *store.Attempt) string {
	if a == nil {
		return "<nil>"
	}
	return strconv.Quote(a.ID)
}

// CredentialID returns c's id quoted, for an error message; "<nil>" when
// c is nil.
func CredentialID(c *seam.Credential) string {
	if c == nil {
		return "<nil>"
	}
	return strconv.Quote(c.ACSCredentialID)
}

// CheckTime returns t in UTC, or an error when its year is outside
// 0000-9999. The SQLite store's fixed-width text, on which its ordering
// rests, cannot hold other years, and the PostgreSQL store refuses them
// too so that both stores accept the same records.
func CheckTime(t time.Time) (time.Time, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("time %s is outside the years 0000-9999", t.Format(time.RFC3339))
	}
	return t, nil
}

// NewAttempt checks that a can be stored as a new pending attempt: it has
// an ID and a WorkspaceID, its Status is pending or empty (meaning
// pending), and its times pass CheckTime. It returns a's CreatedAt and
// Deadline in UTC.
func NewAttempt(a *store.Attempt) (created, deadline time.Time, err error) {
	if a == nil {
		return time.Time{}, time.Time{}, errors.New("attempt is nil")
	}
	if a.ID == "" || a.WorkspaceID == "" {
		return time.Time{}, time.Time{}, errors.New("attempt needs an id and a workspace id")
	}
	if a.Status != "" && a.Status != seam.StatusPending {
		return time.Time{}, time.Time{}, fmt.Errorf("status is %q; a new attempt is %q", a.Status, seam.StatusPending)
	}
	if created, err = CheckTime(a.CreatedAt); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("created_at: %w", err)
	}
	if deadline, err = CheckTime(a.Deadline); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("deadline: %w", err)
	}
	return created, deadline, nil
}

// Finish checks that a can be recorded as an attempt's end: its Status is
// success or error, and its FinishedAt, unless zero, passes CheckTime. It
// returns FinishedAt in UTC (zero stays zero) and a.Result encoded as
// Encode does, nil when a has no Result.
func Finish(a *store.Attempt) (finished time.Time, result *string, err error) {
	if a == nil {
		return time.Time{}, nil, errors.New("attempt is nil")
	}
	if a.Status != seam.StatusSuccess && a.Status != seam.StatusError {
		return time.Time{}, nil, fmt.Errorf("status is %q; want %q or %q", a.Status, seam.StatusSuccess, seam.StatusError)
	}
	if !a.FinishedAt.IsZero() {
		if finished, err = CheckTime(a.FinishedAt); err != nil {
			return time.Time{}, nil, fmt.Errorf("finished_at: %w", err)
		}
	}
	if a.Result != nil {
		r, err := Encode(a.Result)
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("encode result: %w", err)
		}
		result = &r
	}
	if a.Scan != nil {
		b, err := json.Marshal(a.Scan)
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("encode scan result: %w", err)
		}
		r := string(b)
		result = &r
	}
	return finished, result, nil
}

// ActionType is the action type an attempt is stored with.
func ActionType(a *store.Attempt) string {
	if a.ActionType == "" {
		return seam.ActionTypeEncodeCredential
	}
	return a.ActionType
}

// SetResult reads the result kept for attempt a: a scan's, or an
// encode's credential.
func SetResult(a *store.Attempt, body string) error {
	if a.ActionType == seam.ActionTypeScanCredential {
		var r seam.ScanResult
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return fmt.Errorf("attempt %q: scan result: %w", a.ID, err)
		}
		a.Scan = &r
		return nil
	}
	c, err := DecodeResult(a.ID, body)
	a.Result = c
	return err
}

// Credential checks that c can be stored: it has an id and a workspace
// id, it encodes, and its CreatedAt passes CheckTime. It returns c's JSON
// body and its CreatedAt in UTC.
func Credential(c *seam.Credential) (body string, created time.Time, err error) {
	if c == nil {
		return "", time.Time{}, errors.New("credential is nil")
	}
	if c.ACSCredentialID == "" || c.WorkspaceID == "" {
		return "", time.Time{}, errors.New("credential needs acs_credential_id and workspace_id")
	}
	if body, err = Encode(c); err != nil {
		return "", time.Time{}, fmt.Errorf("encode: %w", err)
	}
	if created, err = CheckTime(c.CreatedAt.Time); err != nil {
		return "", time.Time{}, fmt.Errorf("created_at: %w", err)
	}
	return body, created, nil
}

// Encode returns c as the JSON the stores keep: the API's own encoding,
// so that a credential reads back with every field it was given.
func Encode(c *seam.Credential) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Decode reads a credential kept as Encode wrote it.
func Decode(body string) (*seam.Credential, error) {
	var c seam.Credential
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		return nil, fmt.Errorf("decode stored credential: %w", err)
	}
	return &c, nil
}

// DecodeResult reads the Result kept for the attempt with id attemptID;
// its error names the attempt.
func DecodeResult(attemptID, body string) (*seam.Credential, error) {
	c, err := Decode(body)
	if err != nil {
		return nil, fmt.Errorf("attempt %q: result: %w", attemptID, err)
	}
	return c, nil
}

// CheckLease checks the arguments of AcquireLease: a name, a holder, and
// a positive ttl.
func CheckLease(name, holder string, ttl time.Duration) error {
	if name == "" || holder == "" {
		return errors.New("a lease needs a name and a holder")
	}
	if ttl <= 0 {
		return fmt.Errorf("ttl is %s; it must be positive", ttl)
	}
	return nil
}

// Event checks that e can be stored: it has an event id, a workspace id
// and a type, it encodes, and its OccurredAt passes CheckTime. It returns
// e's JSON body and its OccurredAt in UTC.
func Event(e *seam.Event) (body string, occurred time.Time, err error) {
	if e == nil {
		return "", time.Time{}, errors.New("event is nil")
	}
	if e.EventID == "" || e.WorkspaceID == "" || e.EventType == "" {
		return "", time.Time{}, errors.New("event needs event_id, workspace_id and event_type")
	}
	if occurred, err = CheckTime(e.OccurredAt.Time); err != nil {
		return "", time.Time{}, fmt.Errorf("occurred_at: %w", err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("encode: %w", err)
	}
	return string(b), occurred, nil
}

// Events checks every event of an outcome (Event), refusing the whole
// outcome for one that cannot be stored.
func Events(es []*seam.Event) error {
	for i, e := range es {
		if _, _, err := Event(e); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
	}
	return nil
}

// DecodeEvent reads an event kept as Event wrote it.
func DecodeEvent(body string) (*seam.Event, error) {
	var e seam.Event
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		return nil, fmt.Errorf("decode stored event: %w", err)
	}
	return &e, nil
}
