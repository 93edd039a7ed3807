package record

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

var when = time.Date(2025, time.March, 1, 12, 0, 0, 123456789, time.FixedZone("UTC+2", 2*60*60))

func pending() *store.Attempt {
	return &store.Attempt{ID: "att-1", WorkspaceID: "ws-a", EncoderID: "enc-1", CredentialID: "cred-1",
		Status: seam.StatusPending, CreatedAt: when, Deadline: when.Add(time.Minute)}
}

func credential() *seam.Credential {
	card := "0042"
	return &seam.Credential{ACSCredentialID: "cred-1", WorkspaceID: "ws-a", ACSSystemID: "sys-1",
		AccessMethod: seam.AccessCard, CardNumber: &card, CreatedAt: seam.At(when),
		Errors: []seam.CredentialError{}, Warnings: []seam.CredentialWarning{}}
}

// wantErr fails t unless err is an error containing want.
func wantErr(t *testing.T, call string, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s = %v, want an error containing %q", call, err, want)
	}
}

func TestIDs(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{AttemptID(nil), "<nil>"},
		{AttemptID(&store.Attempt{ID: `a"b`}), `"a\"b"`},
		{CredentialID(nil), "<nil>"},
		{CredentialID(&seam.Credential{ACSCredentialID: "cred-1"}), `"cred-1"`},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

func TestCheckTime(t *testing.T) {
	got, err := CheckTime(when)
	if err != nil || !got.Equal(when) || got.Location() != time.UTC {
		t.Errorf("CheckTime(%s) = %s, %v; want the same instant in UTC", when, got, err)
	}
	for _, y := range []int{-1, 10000} {
		tm := time.Date(y, 6, 1, 0, 0, 0, 0, time.UTC)
		_, err := CheckTime(tm)
		wantErr(t, "CheckTime(year "+tm.Format("2006")+")", err, "outside the years 0000-9999")
	}
	// The year is the year in UTC: a minute before 0000 in UTC is refused
	// even where it is already 0000 locally.
	early := time.Date(0, 1, 1, 0, 59, 0, 0, time.FixedZone("UTC+1", 60*60))
	_, err = CheckTime(early)
	wantErr(t, "CheckTime(0000-01-01T00:59+01:00)", err, "outside the years 0000-9999")
}

func TestNewAttempt(t *testing.T) {
	created, deadline, err := NewAttempt(pending())
	if err != nil || !created.Equal(when) || !deadline.Equal(when.Add(time.Minute)) ||
		created.Location() != time.UTC || deadline.Location() != time.UTC {
		t.Errorf("NewAttempt(pending) = %s, %s, %v; want CreatedAt and Deadline in UTC", created, deadline, err)
	}
	empty := pending()
	empty.Status = ""
	if _, _, err := NewAttempt(empty); err != nil {
		t.Errorf("NewAttempt(status \"\") = %v, want nil: empty means pending", err)
	}

	for _, c := range []struct {
		what   string
		change func(a *store.Attempt)
		want   string
	}{
		{"an empty id", func(a *store.Attempt) { a.ID = "" }, "needs an id and a workspace id"},
		{"an empty workspace id", func(a *store.Attempt) { a.WorkspaceID = "" }, "needs an id and a workspace id"},
		{"status success", func(a *store.Attempt) { a.Status = seam.StatusSuccess }, `status is "success"`},
		{"CreatedAt in 10000", func(a *store.Attempt) { a.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "created_at: "},
		{"a Deadline in the year -1", func(a *store.Attempt) { a.Deadline = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) }, "deadline: "},
	} {
		a := pending()
		c.change(a)
		_, _, err := NewAttempt(a)
		wantErr(t, "NewAttempt with "+c.what, err, c.want)
	}
	_, _, err = NewAttempt(nil)
	wantErr(t, "NewAttempt(nil)", err, "attempt is nil")
}

func TestFinish(t *testing.T) {
	a := pending()
	a.Status, a.FinishedAt, a.Result = seam.StatusSuccess, when, credential()
	finished, result, err := Finish(a)
	if err != nil || !finished.Equal(when) || finished.Location() != time.UTC {
		t.Fatalf("Finish(success) = %s, %v; want FinishedAt in UTC", finished, err)
	}
	if result == nil {
		t.Fatalf("Finish(success with a Result) result = nil, want its JSON")
	}
	back, err := Decode(*result)
	if err != nil || back.ACSCredentialID != "cred-1" || *back.CardNumber != "0042" {
		t.Errorf("Decode(Finish's result) = %+v, %v; want the Result back", back, err)
	}

	bare := pending()
	bare.Status = seam.StatusError
	bare.FinishedAt = time.Time{}
	finished, result, err = Finish(bare)
	if err != nil || !finished.IsZero() || result != nil {
		t.Errorf("Finish(error, no FinishedAt, no Result) = %s, %v, %v; want zero, nil, nil", finished, result, err)
	}

	for _, status := range []string{"", seam.StatusPending, "done"} {
		b := pending()
		b.Status = status
		_, _, err := Finish(b)
		wantErr(t, "Finish(status "+status+")", err, "status is")
	}
	late := pending()
	late.Status, late.FinishedAt = seam.StatusError, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	_, _, err = Finish(late)
	wantErr(t, "Finish(FinishedAt in 10000)", err, "finished_at: ")
	_, _, err = Finish(nil)
	wantErr(t, "Finish(nil)", err, "attempt is nil")
}

func TestCredential(t *testing.T) {
	c := credential()
	body, created, err := Credential(c)
	if err != nil || !created.Equal(c.CreatedAt.Time) || created.Location() != time.UTC {
		t.Fatalf("Credential = %s, %v; want CreatedAt %s in UTC", created, err, c.CreatedAt.Time)
	}
	back, err := Decode(body)
	if err != nil {
		t.Fatalf("Decode(Credential's body) = %v", err)
	}
	again, err := Encode(back)
	if err != nil || again != body {
		t.Errorf("Encode(Decode(body)) = %s, %v; want the body unchanged, %s", again, err, body)
	}

	for _, x := range []struct {
		what   string
		change func(c *seam.Credential)
		want   string
	}{
		{"an empty id", func(c *seam.Credential) { c.ACSCredentialID = "" }, "needs acs_credential_id and workspace_id"},
		{"an empty workspace id", func(c *seam.Credential) { c.WorkspaceID = "" }, "needs acs_credential_id and workspace_id"},
		// JSON cannot hold a year past 9999 either; encoding fails first.
		{"CreatedAt in 10000", func(c *seam.Credential) { c.CreatedAt = seam.At(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)) }, ""},
	} {
		c := credential()
		x.change(c)
		_, _, err := Credential(c)
		wantErr(t, "Credential with "+x.what, err, x.want)
	}
	_, _, err = Credential(nil)
	wantErr(t, "Credential(nil)", err, "credential is nil")
}

func TestDecodeGarbage(t *testing.T) {
	for _, body := range []string{"", "{", `{"acs_credential_id": 5}`, "null x"} {
		c, err := Decode(body)
		if err == nil || c != nil {
			t.Errorf("Decode(%q) = %+v, %v; want nil and an error", body, c, err)
		}
	}
	_, err := DecodeResult("att-1", "{")
	wantErr(t, `DecodeResult("att-1", "{")`, err, `attempt "att-1": result: decode stored credential: `)
}

func TestCheckLease(t *testing.T) {
	if err := CheckLease("enc-1", "server-a", time.Nanosecond); err != nil {
		t.Errorf("CheckLease(enc-1, server-a, 1ns) = %v, want nil", err)
	}
	for _, c := range []struct {
		name, holder string
		ttl          time.Duration
		want         string
	}{
		{"", "server-a", time.Minute, "needs a name and a holder"},
		{"enc-1", "", time.Minute, "needs a name and a holder"},
		{"enc-1", "server-a", 0, "must be positive"},
		{"enc-1", "server-a", -time.Second, "must be positive"},
	} {
		wantErr(t, "CheckLease("+c.name+", "+c.holder+", "+c.ttl.String()+")", CheckLease(c.name, c.holder, c.ttl), c.want)
	}
}

// rows is a result of single-column rows; a row holding nil fails its Scan.
type rows struct {
	vals []any
	i    int
	err  error
}

func (r *rows) Next() bool { r.i++; return r.i <= len(r.vals) }
func (r *rows) Err() error { return r.err }
func (r *rows) Scan(dest ...any) error {
	v := r.vals[r.i-1]
	if v == nil {
		return errors.New("bad row")
	}
	*dest[0].(*string) = v.(string)
	return nil
}

func TestCollect(t *testing.T) {
	list, err := Collect(&rows{}, scanString)
	if err != nil || list == nil || len(list) != 0 {
		t.Errorf("Collect(no rows) = %#v, %v; want an empty, non-nil slice", list, err)
	}
	list, err = Collect(&rows{vals: []any{"a", "b", "c"}}, scanString)
	if err != nil || strings.Join(list, " ") != "a b c" {
		t.Errorf("Collect(a b c) = %q, %v; want [a b c]", list, err)
	}
	list, err = Collect(&rows{vals: []any{"a", nil, "c"}}, scanString)
	if err == nil || list != nil {
		t.Errorf("Collect with a row that fails to scan = %q, %v; want nil and its error", list, err)
	}
	ended := errors.New("connection lost")
	list, err = Collect(&rows{vals: []any{"a"}, err: ended}, scanString)
	if !errors.Is(err, ended) || list != nil {
		t.Errorf("Collect of rows ended by an error = %q, %v; want nil and %v", list, err, ended)
	}
}

func scanString(row Scanner) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}

func TestScanCredential(t *testing.T) {
	body, _, err := Credential(credential())
	if err != nil {
		t.Fatal(err)
	}
	list, err := Collect(&rows{vals: []any{body}}, ScanCredential)
	if err != nil || len(list) != 1 || list[0].ACSCredentialID != "cred-1" {
		t.Errorf("Collect(one body, ScanCredential) = %v, %v; want [cred-1]", list, err)
	}
	for _, bad := range []any{nil, "{"} {
		list, err := Collect(&rows{vals: []any{bad}}, ScanCredential)
		if err == nil || list != nil {
			t.Errorf("Collect(%v, ScanCredential) = %v, %v; want nil and an error", bad, list, err)
		}
	}
}
