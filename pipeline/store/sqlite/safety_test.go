package sqlite

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tests in this file check Open's safety checks (docs/store.md): a
// store emptied, replaced or cut short is refused, not served as new; a
// second process is kept off the file unless all share it.

var created0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fill writes n attempts att-<from>… and returns their ids.
func fill(t *testing.T, s *Store, from, n int) []string {
	t.Helper()
	var ids []string
	for i := from; i < from+n; i++ {
		id := fmt.Sprintf("att-%05d", i)
		if err := s.CreateAttempt(context.Background(), attempt(id, created0.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatalf("CreateAttempt(%q) = %v", id, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// wantAttempts fails t unless every id is found in s.
func wantAttempts(t *testing.T, s *Store, when string, ids []string) {
	t.Helper()
	missing := 0
	for _, id := range ids {
		if _, err := s.GetAttempt(context.Background(), "ws-a", id); err != nil {
			if missing == 0 {
				t.Errorf("%s: GetAttempt(%q) = %v, want it found", when, id, err)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%s: %d of %d acknowledged attempts missing", when, missing, len(ids))
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// crashCopy copies the files of the open store at path, with no write in
// flight, into a new directory: what a SIGKILL would leave (the kernel
// keeps what the process wrote), without the dead process's lock.
func crashCopy(t *testing.T, path string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), filepath.Base(path))
	for _, suffix := range []string{"", "-wal", "-shm", sidecarSuffix} {
		copyFile(t, path+suffix, to+suffix)
	}
	return to
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// wantRefused opens path and fails t unless Open refuses it with an error
// matching target that names the file and says what to do.
func wantRefused(t *testing.T, path string, target error, what string) {
	t.Helper()
	s, err := Open(path)
	if err == nil {
		s.Close()
		t.Fatalf("Open(%q) of %s = nil error, want %v", path, what, target)
	}
	if !errors.Is(err, target) {
		t.Fatalf("Open(%q) of %s = %v, want %v", path, what, err, target)
	}
	msg := err.Error()
	if !strings.Contains(msg, path) {
		t.Errorf("Open(%q) of %s: error %q does not name the file", path, what, msg)
	}
	if target == ErrDamaged && (!strings.Contains(msg, "backup") || !strings.Contains(msg, "AcceptReset")) {
		t.Errorf("Open(%q) of %s: error %q does not say what to do (restore a backup, or AcceptReset)", path, what, msg)
	}
}

// TestSidecar: Open writes <db>.encoderlab, with the store's id (the same
// as in the database's meta table) and its state, open while the store is
// and closed after Close.
func TestSidecar(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	side, err := os.ReadFile(path + ".encoderlab")
	if err != nil {
		t.Fatalf("no sidecar next to a new store: %v", err)
	}
	var dbID string
	if err := s.w.QueryRow(`SELECT value FROM meta WHERE key = 'store_id'`).Scan(&dbID); err != nil || dbID == "" {
		t.Fatalf("store_id in the meta table: %q, %v", dbID, err)
	}
	for _, want := range []string{"encoderlab sqlite store\n", "\nid " + dbID + "\n", "\nstate open\n"} {
		if !strings.Contains(string(side), want) {
			t.Errorf("sidecar of an open store does not contain %q:\n%s", want, side)
		}
	}
	if s.ID() != dbID {
		t.Errorf("ID() = %q, want the meta table's %q", s.ID(), dbID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	side, _ = os.ReadFile(path + ".encoderlab")
	if !strings.Contains(string(side), "\nstate closed\n") {
		t.Errorf("sidecar after Close does not say closed:\n%s", side)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatalf("Open after a clean Close = %v", err)
	}
	defer s.Close()
	if s.ID() != dbID || s.Accepted() != "" {
		t.Errorf("reopened: ID() = %q, Accepted() = %q; want %q and nothing accepted", s.ID(), s.Accepted(), dbID)
	}
}

// TestAdoptsStoreWithoutSidecar: a store made before sidecars (or whose
// sidecar was removed) is taken over, not refused: Open writes a sidecar
// with the id the database has, or gives it one.
func TestAdoptsStoreWithoutSidecar(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db := rawDB(t, path)
	if _, err := db.Exec(migrations[0] + migrations[1] + "PRAGMA journal_mode = WAL; PRAGMA user_version = 2;"); err != nil {
		t.Fatalf("writing a version 2 file: %v", err)
	}
	if _, err := db.Exec(`INSERT INTO attempts (id, workspace_id, encoder_id, credential_id, status, created_at, deadline)
VALUES ('att-old', 'ws-a', 'enc-1', 'cred-1', 'pending', '2025-03-01T12:00:00.000000000Z', '2025-03-01T12:01:00.000000000Z')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open of a store without a sidecar = %v, want it adopted", err)
	}
	wantAttempts(t, s, "adopted", []string{"att-old"})
	id := s.ID()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	side, err := os.ReadFile(path + ".encoderlab")
	if err != nil || !strings.Contains(string(side), "\nid "+id+"\n") || id == "" {
		t.Fatalf("sidecar after adopting: %q, %v; want it to hold the id %q", side, err, id)
	}

	// The sidecar lost again: the id is the database's, kept.
	if err := os.Remove(path + ".encoderlab"); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.ID() != id {
		t.Errorf("ID() after the sidecar was removed = %q, want the database's %q", s.ID(), id)
	}
}

// TestRefusesEmptiedStore: a store stopped cleanly whose database file was
// then emptied, or removed, is refused, and left as it is; AcceptReset
// starts it over as a new, empty store with a new id.
func TestRefusesEmptiedStore(t *testing.T) {
	for _, how := range []string{"emptied", "removed"} {
		t.Run(how, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			fill(t, s, 0, 3)
			oldID := s.ID()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if how == "emptied" {
				err = os.Truncate(path, 0)
			} else {
				err = os.Remove(path)
			}
			if err != nil {
				t.Fatal(err)
			}
			wantRefused(t, path, ErrDamaged, "an "+how+" store")
			st, err := os.Stat(path)
			switch {
			case how == "emptied" && (err != nil || st.Size() != 0):
				t.Errorf("the refused Open changed the emptied file: %v, %v", st, err)
			case how == "removed" && !errors.Is(err, fs.ErrNotExist):
				t.Errorf("the refused Open created the removed file: %v", err)
			}

			s, err = OpenWith(path, Options{AcceptReset: true})
			if err != nil {
				t.Fatalf("OpenWith(AcceptReset) of an %s store = %v", how, err)
			}
			defer s.Close()
			if s.Accepted() == "" || s.ID() == oldID || s.ID() == "" {
				t.Errorf("AcceptReset: Accepted() = %q, ID() = %q (old %q); want what was accepted and a new id", s.Accepted(), s.ID(), oldID)
			}
			if p, err := s.PendingAttempts(context.Background()); err != nil || len(p) != 0 {
				t.Errorf("PendingAttempts() of the reset store = %v, %v; want none", p, err)
			}
		})
	}
}

// TestRefusesReplacedStore: a database file swapped for another store's,
// or for a database that is no store at all, is refused.
func TestRefusesReplacedStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, 0, 2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.db")
	o, err := Open(other)
	if err != nil {
		t.Fatal(err)
	}
	otherID := o.ID()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	copyFile(t, other, path)
	wantRefused(t, path, ErrDamaged, "another store's file")

	foreign := filepath.Join(t.TempDir(), "foreign.db")
	db := rawDB(t, foreign)
	if _, err := db.Exec("CREATE TABLE notes (x TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	copyFile(t, foreign, path)
	wantRefused(t, path, ErrDamaged, "a database that is no store")

	copyFile(t, other, path)
	s, err = OpenWith(path, Options{AcceptReset: true})
	if err != nil {
		t.Fatalf("OpenWith(AcceptReset) of another store's file = %v", err)
	}
	defer s.Close()
	if s.ID() != otherID {
		t.Errorf("ID() after accepting another store's file = %q, want that store's %q", s.ID(), otherID)
	}
}

// TestRefusesLostOrCutWAL: after a crash (a copy of the files of an open
// store), the store opens with everything acknowledged; but with its WAL
// removed, cut in the middle of a frame, or cut at a frame boundary
// before the last acknowledged commit, it is refused. A torn frame after
// the last commit, as a process killed mid-write leaves, is accepted.
func TestRefusesLostOrCutWAL(t *testing.T) {
	s, path := openTemp(t)
	ids := fill(t, s, 0, 20)
	crashed := crashCopy(t, path)
	walSize := size(t, crashed+"-wal")
	const frame = walFrameHeaderSize + 4096
	if walSize < walHeaderSize+20*frame {
		t.Fatalf("WAL of 20 commits is %d bytes; the test needs them in the WAL", walSize)
	}

	t.Run("intact", func(t *testing.T) {
		p := crashCopy(t, crashed)
		s, err := Open(p)
		if err != nil {
			t.Fatalf("Open after a crash = %v", err)
		}
		defer s.Close()
		wantAttempts(t, s, "after a crash", ids)
	})
	t.Run("torn last frame", func(t *testing.T) {
		p := crashCopy(t, crashed)
		// A frame header and half a page past the last commit: a frame of
		// a transaction that never committed, its page half written.
		f, err := os.OpenFile(p+"-wal", os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		var torn [walFrameHeaderSize + 2048]byte
		binary.BigEndian.PutUint32(torn[0:], 2)
		if _, err := f.Write(torn[:]); err != nil {
			t.Fatal(err)
		}
		f.Close()
		s, err := Open(p)
		if err != nil {
			t.Fatalf("Open with a torn frame after the last commit = %v, want it accepted", err)
		}
		defer s.Close()
		wantAttempts(t, s, "after a torn frame", ids)
	})
	for _, c := range []struct {
		name string
		cut  func(p string) error
	}{
		{"WAL and shm removed", func(p string) error { return errors.Join(os.Remove(p+"-wal"), os.Remove(p+"-shm")) }},
		{"WAL cut in half", func(p string) error { return os.Truncate(p+"-wal", walSize/2) }},
		{"WAL cut at a frame boundary", func(p string) error {
			return os.Truncate(p+"-wal", walSize-((walSize-walHeaderSize)/frame/2)*frame)
		}},
		{"WAL cut to its header", func(p string) error { return os.Truncate(p+"-wal", walHeaderSize) }},
		{"WAL emptied", func(p string) error { return os.Truncate(p+"-wal", 0) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := crashCopy(t, crashed)
			if err := c.cut(p); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, p, ErrDamaged, "a crashed store, "+c.name)
			s, err := OpenWith(p, Options{AcceptReset: true})
			if err != nil {
				t.Fatalf("OpenWith(AcceptReset) = %v", err)
			}
			defer s.Close()
			if !strings.Contains(s.Accepted(), "-wal") {
				t.Errorf("Accepted() = %q, want it to name the WAL file", s.Accepted())
			}
		})
	}
}

// TestRefusesCutWALAfterCleanStop: a WAL left by a clean stop (SQLite
// keeps it while another connection has the file) must be whole frames.
func TestRefusesCutWALAfterCleanStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ids := fill(t, s, 0, 10)
	// Another connection on the file keeps SQLite from removing the WAL
	// when the store closes.
	other := rawDB(t, path)
	if _, err := other.Exec("SELECT count(*) FROM attempts"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	crashed := crashCopy(t, path)
	other.Close()
	walSize := size(t, crashed+"-wal")
	if walSize == 0 {
		t.Skip("SQLite removed or emptied the WAL despite the second connection")
	}
	intact := crashCopy(t, crashed)
	s, err = Open(intact)
	if err != nil {
		t.Fatalf("Open after a clean stop with the WAL kept = %v", err)
	}
	wantAttempts(t, s, "clean stop, WAL kept", ids)
	s.Close()
	if err := os.Truncate(crashed+"-wal", walSize-100); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, crashed, ErrDamaged, "a cleanly stopped store with its WAL cut")
}

// TestRefusesCorruptDatabase: a page overwritten with garbage fails
// SQLite's quick_check, and such a file is refused even with AcceptReset.
func TestRefusesCorruptDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, 0, 50)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Page 2 onwards, past the header page.
	if _, err := f.WriteAt([]byte(strings.Repeat("\xa5", 4096)), 2*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	wantRefused(t, path, ErrCorrupt, "a corrupt database")
	if s, err := OpenWith(path, Options{AcceptReset: true}); !errors.Is(err, ErrCorrupt) {
		if err == nil {
			s.Close()
		}
		t.Errorf("OpenWith(AcceptReset) of a corrupt database = %v, want ErrCorrupt", err)
	}

	// The header overwritten: not a database any more.
	f, _ = os.OpenFile(path, os.O_WRONLY, 0)
	if _, err := f.WriteAt([]byte("not a database!!"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	wantRefused(t, path, ErrNotDatabase, "a database with a bad header")
}

// TestRefusesSecondProcess: a second Open of a file that is open is
// refused unless both share it, and a refused Open changes nothing for
// the first, which goes on writing.
func TestRefusesSecondProcess(t *testing.T) {
	for _, c := range []struct {
		name          string
		first, second bool // Shared
		wantInUse     bool
	}{
		{"neither shared", false, false, true},
		{"second shared", false, true, true},
		{"first shared", true, false, true},
		{"both shared", true, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s1, path := openTempWith(t, Options{Shared: c.first})
			ids := fill(t, s1, 0, 2)
			s2, err := OpenWith(path, Options{Shared: c.second})
			if !c.wantInUse {
				if err != nil {
					t.Fatalf("second OpenWith(Shared) = %v, want nil", err)
				}
				ids = append(ids, fill(t, s2, 2, 2)...)
				wantAttempts(t, s1, "written by the second", ids)
				if err := s2.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				s2.Close()
				t.Fatalf("second OpenWith(%q, Shared %v) while open with Shared %v = nil error, want ErrInUse", path, c.second, c.first)
			}
			if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "Shared") || !strings.Contains(err.Error(), path) {
				t.Errorf("second OpenWith = %v, want ErrInUse naming the file and Options.Shared", err)
			}
			ids = append(ids, fill(t, s1, 2, 2)...)
			wantAttempts(t, s1, "the first, after a refused second Open", ids)
			if err := s1.Close(); err != nil {
				t.Fatal(err)
			}
			s3, err := OpenWith(path, Options{Shared: c.second})
			if err != nil {
				t.Fatalf("OpenWith after the first closed = %v", err)
			}
			defer s3.Close()
			wantAttempts(t, s3, "reopened", ids)
		})
	}
}

// TestWALHeader: readWAL understands the WAL SQLite writes: its magic,
// its header checksum and its page size, and it is whole frames.
func TestWALHeader(t *testing.T) {
	s, path := openTemp(t)
	fill(t, s, 0, 3)
	w, err := readWAL(path)
	if err != nil {
		t.Fatal(err)
	}
	if !w.exists || !w.header || w.pageSize != 4096 || !w.whole() {
		t.Errorf("readWAL of a live store's WAL = %+v; want a valid header, page size 4096, whole frames", w)
	}
}
