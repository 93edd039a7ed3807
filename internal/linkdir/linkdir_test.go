package linkdir_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	creack "github.com/creack/pty"

	"github.com/encoderlab/encoderlab/internal/linkdir"
)

// nobody is the uid the hostile cases give away files to.
const nobody = 65534

// asRoot skips a case that needs to give a file to another user.
func asRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user (os.Lchown) takes root")
	}
}

func TestDefault(t *testing.T) {
	t.Run("XDG_RUNTIME_DIR", func(t *testing.T) {
		t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
		if got, want := linkdir.Default(), "/run/user/1000/encoderlab"; got != want {
			t.Errorf("Default() = %q, want %q", got, want)
		}
	})
	for _, xdg := range []string{"", "relative/dir"} {
		t.Run(fmt.Sprintf("XDG_RUNTIME_DIR=%q", xdg), func(t *testing.T) {
			t.Setenv("XDG_RUNTIME_DIR", xdg)
			t.Setenv("TMPDIR", "/var/tmp/x")
			if got, want := linkdir.Default(), "/var/tmp/x/encoderlab-"+strconv.Itoa(os.Geteuid()); got != want {
				t.Errorf("Default() = %q, want %q", got, want)
			}
		})
	}
}

func TestPrepareCreatesAPrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "links")
	if err := linkdir.Prepare(dir); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("Prepare made %v, want a directory of mode 0700", fi.Mode())
	}
	if err := linkdir.Prepare(dir); err != nil {
		t.Errorf("Prepare on the directory it made: %v", err)
	}
}

// refused asserts err is an *UnsafeError naming path and saying want.
func refused(t *testing.T, err error, path string, want ...string) {
	t.Helper()
	var ue *linkdir.UnsafeError
	if !errors.As(err, &ue) || !errors.Is(err, linkdir.ErrUnsafe) {
		t.Fatalf("got %v, want an *UnsafeError", err)
	}
	if ue.Path != path || ue.Fix == "" {
		t.Errorf("refused %q with fix %q, want path %q and a fix", ue.Path, ue.Fix, path)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q should say %q", err, w)
		}
	}
}

func TestCheckRefusesDirectoriesOthersControl(t *testing.T) {
	t.Run("owned by another user", func(t *testing.T) {
		asRoot(t)
		dir := filepath.Join(t.TempDir(), "links")
		mkdir(t, dir, 0o700)
		if err := os.Lchown(dir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		refused(t, linkdir.Check(dir), dir, "owned by uid 65534", "not by you", "--links")
		refused(t, linkdir.Prepare(dir), dir, "owned by uid 65534")
	})
	t.Run("writable by others", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "links")
		mkdir(t, dir, 0o777)
		refused(t, linkdir.Check(dir), dir, "writable by group or others", "0777", "chmod 0700 "+dir)
	})
	t.Run("writable by group", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "links")
		mkdir(t, dir, 0o770)
		refused(t, linkdir.Check(dir), dir, "writable by group or others")
	})
	t.Run("a symlink to a directory", func(t *testing.T) {
		real := filepath.Join(t.TempDir(), "real")
		mkdir(t, real, 0o700)
		dir := filepath.Join(t.TempDir(), "links")
		if err := os.Symlink(real, dir); err != nil {
			t.Fatal(err)
		}
		refused(t, linkdir.Check(dir), dir, "symbolic link", real)
		refused(t, linkdir.Prepare(dir), dir, "symbolic link")
	})
	t.Run("a file", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "links")
		if err := os.WriteFile(dir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		refused(t, linkdir.Check(dir), dir, "not a directory")
	})
	t.Run("in a directory anyone may write", func(t *testing.T) {
		parent := filepath.Join(t.TempDir(), "open")
		mkdir(t, parent, 0o777)
		dir := filepath.Join(parent, "links")
		mkdir(t, dir, 0o700)
		refused(t, linkdir.Check(dir), dir, parent, "sticky")
	})
	t.Run("missing", func(t *testing.T) {
		if err := linkdir.Check(filepath.Join(t.TempDir(), "none")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Check on a missing directory: %v, want fs.ErrNotExist", err)
		}
	})
}

func TestCheckAcceptsAPrivateDirectoryInASharedStickyOne(t *testing.T) {
	tmp := filepath.Join(t.TempDir(), "tmp")
	mkdir(t, tmp, 0o777|fs.ModeSticky) // as /tmp is
	dir := filepath.Join(tmp, "links")
	mkdir(t, dir, 0o755)
	if err := linkdir.Check(dir); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestCheckLink(t *testing.T) {
	master, slave, err := creack.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	tty := slave.Name()

	link := func(t *testing.T) (dir, path string) {
		dir = filepath.Join(t.TempDir(), "links")
		mkdir(t, dir, 0o700)
		path = filepath.Join(dir, "front-desk-1")
		if err := os.Symlink(tty, path); err != nil {
			t.Fatal(err)
		}
		return dir, path
	}
	t.Run("own link to own pty", func(t *testing.T) {
		_, path := link(t)
		if err := linkdir.CheckLink(path); err != nil {
			t.Errorf("CheckLink: %v", err)
		}
	})
	t.Run("link owned by another user", func(t *testing.T) {
		asRoot(t)
		_, path := link(t)
		if err := os.Lchown(path, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		refused(t, linkdir.CheckLink(path), path, "owned by uid 65534")
	})
	t.Run("directory owned by another user", func(t *testing.T) {
		asRoot(t)
		dir, path := link(t)
		if err := os.Lchown(dir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		refused(t, linkdir.CheckLink(path), dir, "owned by uid 65534")
	})
	t.Run("directory writable by others", func(t *testing.T) {
		dir, path := link(t)
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		refused(t, linkdir.CheckLink(path), dir, "writable by group or others")
	})
	t.Run("pty of another user", func(t *testing.T) {
		asRoot(t)
		_, path := link(t)
		// As if the simulator had gone and another user had opened the
		// pty number since.
		if err := os.Chown(tty, nobody, -1); err != nil {
			t.Skipf("cannot give %s to another user here: %v", tty, err)
		}
		t.Cleanup(func() { os.Chown(tty, os.Geteuid(), -1) })
		refused(t, linkdir.CheckLink(path), path, tty, "uid 65534", "start encodersim again")
	})
	t.Run("a file others may write", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "links")
		mkdir(t, dir, 0o700)
		path := filepath.Join(dir, "front-desk-1")
		if err := os.WriteFile(path, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o666); err != nil {
			t.Fatal(err)
		}
		refused(t, linkdir.CheckLink(path), path, "writable by group or others")
	})
	t.Run("dangling", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "links")
		mkdir(t, dir, 0o700)
		path := filepath.Join(dir, "front-desk-1")
		if err := os.Symlink("/dev/pts/no-such-pty", path); err != nil {
			t.Fatal(err)
		}
		if err := linkdir.CheckLink(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("CheckLink on a dangling link: %v, want fs.ErrNotExist", err)
		}
	})
}

func TestClaim(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "links")
	mkdir(t, dir, 0o700)
	link := filepath.Join(dir, "front-desk-1")

	first, err := linkdir.Claim(link)
	if err != nil {
		t.Fatalf("first Claim: %v", err)
	}
	lock := filepath.Join(dir, ".front-desk-1.lock")
	if got := linkdir.LockPath(link); got != lock {
		t.Errorf("LockPath = %q, want %q", got, lock)
	}
	_, err = linkdir.Claim(link)
	var held *linkdir.HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second Claim while the first holds it: %v, want a *HeldError", err)
	}
	if want := fmt.Sprintf("pid %d: ", os.Getpid()); !strings.HasPrefix(held.Holder, want) || !strings.Contains(err.Error(), want) {
		t.Errorf("the refusal %q (holder %q) should name the holder, %q…", err, held.Holder, want)
	}
	if err := first.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, err := os.Lstat(lock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Release left %s: %v", lock, err)
	}
	if err := first.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	again, err := linkdir.Claim(link)
	if err != nil {
		t.Fatalf("Claim after Release: %v", err)
	}
	if err := again.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestClaimTakesOverAStaleLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "links")
	mkdir(t, dir, 0o700)
	link := filepath.Join(dir, "front-desk-1")
	// A holder killed outright leaves its lock file, but not its lock.
	if err := os.WriteFile(linkdir.LockPath(link), []byte("pid 999999999: encodersim run first-issue\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := linkdir.Claim(link)
	if err != nil {
		t.Fatalf("Claim over a stale lock file: %v", err)
	}
	defer h.Release()
	b, err := os.ReadFile(linkdir.LockPath(link))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("pid %d: ", os.Getpid()); !strings.HasPrefix(string(b), want) || strings.Contains(string(b), "999999999") {
		t.Errorf("lock file says %q, want this process (%s…) alone", b, want)
	}
}

func TestClaimRefusesALockFileThatIsASymlink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "links")
	mkdir(t, dir, 0o700)
	link := filepath.Join(dir, "front-desk-1")
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, linkdir.LockPath(link)); err != nil {
		t.Fatal(err)
	}
	if h, err := linkdir.Claim(link); err == nil {
		h.Release()
		t.Fatal("Claim followed a symlinked lock file")
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("Claim wrote through the symlink: %q", b)
	}
}

func TestClaimRefusesAnUnsafeDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "links")
	mkdir(t, dir, 0o777)
	if h, err := linkdir.Claim(filepath.Join(dir, "front-desk-1")); err == nil {
		h.Release()
		t.Fatal("Claim accepted a directory anyone may write")
	} else {
		refused(t, err, dir)
	}
}

// mkdir makes dir with exactly mode, whatever the umask.
func mkdir(t *testing.T, dir string, mode fs.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

// TestHolderScale: a holder that claimed with its time scale can be read
// back by whoever opens the link; a plain claim, a stale lock file left
// by a process that has gone, and a released name tell nothing.
func TestHolderScale(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "links")
	mkdir(t, dir, 0o700)
	link := filepath.Join(dir, "front-desk-1")

	if _, _, ok := linkdir.HolderScale(link); ok {
		t.Errorf("HolderScale of an unclaimed link reports a scale")
	}
	h, err := linkdir.ClaimScaled(link, 0.01)
	if err != nil {
		t.Fatalf("ClaimScaled: %v", err)
	}
	scale, holder, ok := linkdir.HolderScale(link)
	if !ok || scale != 0.01 {
		t.Errorf("HolderScale = %v, %v; want 0.01, true", scale, ok)
	}
	if want := fmt.Sprintf("pid %d: ", os.Getpid()); !strings.HasPrefix(holder, want) {
		t.Errorf("HolderScale holder = %q, want %q…", holder, want)
	}
	_, err = linkdir.Claim(link)
	var held *linkdir.HeldError
	if !errors.As(err, &held) || strings.Contains(held.Holder, "\n") || strings.Contains(held.Holder, "scale") {
		t.Errorf("a second Claim's refusal names the holder as %q (err %v), want its first line only", held.Holder, err)
	}
	if err := h.Release(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := linkdir.HolderScale(link); ok {
		t.Errorf("HolderScale after Release reports a scale")
	}

	plain, err := linkdir.Claim(link)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := linkdir.HolderScale(link); ok {
		t.Errorf("HolderScale of a Claim without a scale reports one")
	}
	if err := plain.Release(); err != nil {
		t.Fatal(err)
	}

	// A killed holder's lock file stays; its pid no longer runs. pid
	// 2^22+1 is above Linux's pid_max ceiling.
	if err := os.WriteFile(linkdir.LockPath(link), []byte("pid 4194305: encodersim run x\nscale 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := linkdir.HolderScale(link); ok {
		t.Errorf("HolderScale of a stale lock file (its holder gone) reports a scale")
	}
}
