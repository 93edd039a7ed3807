package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/internal/require"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// The tests in this file fill the store's disk: a real, small file system
// (tmpfs, which needs root) and, without one, a database that may not
// grow (LimitGrowth).

// smallFS mounts a tmpfs of the given size on a new directory, unmounted
// when the test ends. Without the right to mount, the test fails when
// CI=true (CI must run it) and is skipped otherwise.
func smallFS(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	if err != nil {
		require.Missing(t, "mounting a %s tmpfs on %s (needs root): %v: %s", size, dir, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes a file in dir until the file system is full and
// returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{64 << 10, 4 << 10, 512} {
		buf := make([]byte, chunk)
		for {
			if _, err := f.Write(buf); err != nil {
				break // ENOSPC: this chunk size no longer fits
			}
		}
	}
	return p
}

// writeUntilRefused creates attempts att-<from>… until one fails, at most
// bound of them; it returns the ids acknowledged and the first error.
func writeUntilRefused(t *testing.T, s *Store, from, bound int) ([]string, error) {
	t.Helper()
	var acked []string
	for i := from; i < from+bound; i++ {
		a := attempt(fmt.Sprintf("att-%05d", i), created0.Add(time.Duration(i)*time.Second))
		// 300 bytes of credential id, so that the disk fills in a few
		// thousand writes.
		a.CredentialID = fmt.Sprintf("cred-%0295d", i)
		if err := s.CreateAttempt(context.Background(), a); err != nil {
			return acked, err
		}
		acked = append(acked, a.ID)
	}
	return acked, nil
}

// wantUnavailable fails t unless err is a write refused because the
// store cannot write now.
func wantUnavailable(t *testing.T, when string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: every write succeeded, want one refused with ErrUnavailable", when)
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("%s: write error %v, want one matching store.ErrUnavailable", when, err)
	}
}

// TestFullDiskRecovers: on a 3 MiB file system filled by another file,
// writes fail with store.ErrUnavailable while reads go on; once the file
// is deleted, writes succeed again, and everything acknowledged before,
// during and after is kept, across a reopen too.
func TestFullDiskRecovers(t *testing.T) {
	dir := smallFS(t, "3m")
	path := filepath.Join(dir, "store.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	acked := fill(t, s, 0, 50)

	filler := fillDisk(t, dir)
	more, err := writeUntilRefused(t, s, 100, 10000)
	acked = append(acked, more...)
	wantUnavailable(t, "disk full", err)
	_, err = writeUntilRefused(t, s, 20000, 1)
	wantUnavailable(t, "disk still full", err)

	wantAttempts(t, s, "reads while the disk is full", acked)
	if p, err := s.PendingAttempts(context.Background()); err != nil || len(p) != len(acked) {
		t.Errorf("PendingAttempts() while the disk is full = %d attempts, %v; want the %d acknowledged", len(p), err, len(acked))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	more, err = writeUntilRefused(t, s, 30000, 200)
	acked = append(acked, more...)
	if err != nil {
		t.Fatalf("write after the filler was deleted (%d succeeded) = %v, want writes to succeed again", len(more), err)
	}
	wantAttempts(t, s, "after the disk had room again", acked)

	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if s, err = Open(path); err != nil {
		t.Fatalf("Open after the disk was full = %v", err)
	}
	wantAttempts(t, s, "reopened", acked)
}

// TestWALDoesNotFillDisk: the store alone fills a 3 MiB file system with
// data, not with WAL frames that are never checkpointed: when the first
// write is refused (with ErrUnavailable) the WAL is within its bound
// (walSizeLimit, and the frames of the last checkpoint interval), an
// eighth of the file system holds the attempts' own credential ids, and
// the full store still reads and opens again. The reserve (1 MiB) stays
// set aside: new work gets none of it.
func TestWALDoesNotFillDisk(t *testing.T) {
	const fsSize = 3 << 20
	dir := smallFS(t, "3m")
	path := filepath.Join(dir, "store.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	acked, err := writeUntilRefused(t, s, 0, 20000)
	wantUnavailable(t, "the store filling its disk", err)
	t.Logf("%d writes before the %d-byte disk was full", len(acked), fsSize)
	if fi, err := os.Stat(path + "-wal"); err != nil {
		t.Fatal(err)
	} else if bound := int64(walSizeLimit + walCheckpointPages/4*4096); fi.Size() > bound {
		t.Errorf("the WAL holds %d bytes when the disk is full, over its bound of %d: the WAL took the disk", fi.Size(), bound)
	}
	if _, err := os.Stat(reservePath(path)); err != nil {
		t.Errorf("the reserve is gone after new work filled the disk (%v): new work must leave it for outcomes", err)
	}
	if held := 300 * len(acked); held < fsSize/8 {
		t.Errorf("the store took %d writes (%d bytes of credential ids) before the %d-byte disk was full, want at least %d bytes",
			len(acked), held, fsSize, fsSize/8)
	}
	wantAttempts(t, s, "reads on a full disk", acked)
	s.Close() // its checkpoint may fail for want of room; nothing is lost
	if s, err = Open(path); err != nil {
		t.Fatalf("Open of a store that filled its disk = %v", err)
	}
	wantAttempts(t, s, "reopened on a full disk", acked)
}

// TestLimitGrowth: LimitGrowth simulates a full disk without one: writes
// that need a new page fail with ErrUnavailable, reads go on, and lifting
// the limit lets writes succeed again.
func TestLimitGrowth(t *testing.T) {
	s, _ := openTemp(t)
	acked := fill(t, s, 0, 10)
	if err := s.LimitGrowth(0); err != nil {
		t.Fatal(err)
	}
	more, err := writeUntilRefused(t, s, 100, 5000)
	acked = append(acked, more...)
	wantUnavailable(t, "LimitGrowth(0)", err)
	wantAttempts(t, s, "reads while the database may not grow", acked)
	if err := s.LimitGrowth(-1); err != nil {
		t.Fatal(err)
	}
	if _, err := writeUntilRefused(t, s, 10000, 10); err != nil {
		t.Errorf("write after LimitGrowth(-1) = %v, want nil", err)
	}
}
