// Package linkdir keeps the links directory safe: the directory where
// encodersim publishes each virtual encoder as a symlink to its pty and
// where encoderd opens them. Whoever controls that directory controls
// what encoderd talks to, and so receives the card data of every encode
// (card id, validity, label) and decides which card a credential is
// marked issued on. So both sides trust a directory, and a link in it,
// only when the effective user owns it and no other user can write it.
//
// Concepts:
//
//   - Default is a per-user directory: $XDG_RUNTIME_DIR/encoderlab when
//     XDG_RUNTIME_DIR is set (a directory only the user can enter), and
//     otherwise encoderlab-<uid> under the temporary directory.
//   - Prepare creates a links directory (mode 0700) and checks it; Check
//     checks one; CheckLink checks a link and its directory before it is
//     opened. A refusal is an *UnsafeError (errors.Is ErrUnsafe) that says
//     what is wrong and what to fix.
//   - Claim claims a link's name for one process with a lock file beside
//     it (".<name>.lock", held with flock(2) and naming the holder's pid
//     and command), so two simulators never publish the same encoder: the
//     second gets a *HeldError naming the first. A lock whose holder has
//     gone is free again, since the kernel drops a dead process's locks.
//
// The package supports Linux and other Unix systems.
package linkdir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Name is the links directory's name under $XDG_RUNTIME_DIR; under the
// temporary directory it is Name-<uid>.
const Name = "encoderlab"

// Default returns the per-user default links directory:
// $XDG_RUNTIME_DIR/encoderlab when XDG_RUNTIME_DIR is set to an absolute
// path, otherwise $TMPDIR/encoderlab-<uid> (/tmp/encoderlab-<uid> without
// TMPDIR), uid being the effective user id.
func Default() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, Name)
	}
	return filepath.Join(os.TempDir(), Name+"-"+strconv.Itoa(os.Geteuid()))
}

// ErrUnsafe is what every *UnsafeError wraps.
var ErrUnsafe = errors.New("not safe to use")

// UnsafeError refuses a links directory, or a link in it, that another
// user could have made or could change.
type UnsafeError struct {
	Path    string // the directory or link refused
	Problem string // what is wrong with it
	Fix     string // what to do about it
}

func (e *UnsafeError) Error() string {
	return fmt.Sprintf("refusing the links directory: %s %s, and whoever controls it chooses what encoderd talks to; %s", e.Path, e.Problem, e.Fix)
}

func (e *UnsafeError) Unwrap() error { return ErrUnsafe }

// Prepare creates dir if it is missing (mode 0700, and 0700 for missing
// parents) and checks it as Check does.
func Prepare(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("links directory: %w", err)
	}
	return Check(dir)
}

// Check returns nil if dir is a directory, not a symlink, owned by the
// effective user, writable by no one else, and in a parent where no other
// user can replace it (not writable by others, or sticky as /tmp is).
// Otherwise it returns an *UnsafeError, or the error looking at dir
// failed with (errors.Is fs.ErrNotExist when it is missing).
func Check(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("links directory: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, _ := os.Readlink(dir)
		return &UnsafeError{Path: dir, Problem: fmt.Sprintf("is a symbolic link (to %s)", target),
			Fix: "give a real directory of your own (--links DIR), or remove the link"}
	}
	if !fi.IsDir() {
		return &UnsafeError{Path: dir, Problem: "is not a directory",
			Fix: "remove it, or give another directory with --links"}
	}
	if err := checkOwner(dir, fi, "remove it (it takes its owner or root) or give a directory of your own with --links"); err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return &UnsafeError{Path: dir, Problem: fmt.Sprintf("is writable by group or others (mode %04o)", perm),
			Fix: fmt.Sprintf("run chmod 0700 %s (encodersim creates it so)", dir)}
	}
	parent := filepath.Dir(dir)
	if pi, err := os.Stat(parent); err == nil && pi.Mode().Perm()&0o002 != 0 && pi.Mode()&fs.ModeSticky == 0 {
		return &UnsafeError{Path: dir, Problem: fmt.Sprintf("is in %s, which anyone may write without the sticky bit (mode %04o)", parent, pi.Mode().Perm()),
			Fix: "give a links directory whose parent only you can write (or one in /tmp), with --links"}
	}
	return nil
}

// ptsDir is where Linux keeps the pty slaves a link points at.
const ptsDir = "/dev/pts/"

// CheckLink returns nil if the link at path may be opened: its directory
// passes Check; the link itself (not what it points at) is owned by the
// effective user, and if it is not a symlink, writable by no one else;
// and when it leads to a pty, that pty is the effective user's, as ptys a
// simulator opens are: a link left by a simulator that died can point at
// a pty number another user has opened since. A missing directory or link
// is an error for which errors.Is fs.ErrNotExist holds.
func CheckLink(path string) error {
	if err := Check(filepath.Dir(path)); err != nil {
		return err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("links directory: %w", err)
	}
	if err := checkOwner(path, fi, "remove it; encodersim publishes its links itself"); err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		// A symlink's own mode is always 0777 and means nothing.
		if perm := fi.Mode().Perm(); perm&0o022 != 0 {
			return &UnsafeError{Path: path, Problem: fmt.Sprintf("is writable by group or others (mode %04o)", perm),
				Fix: "remove it; encodersim publishes its links itself"}
		}
		return nil
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("links directory: %w", err)
	}
	if !strings.HasPrefix(target, ptsDir) {
		return nil // a real device the user linked there, such as /dev/ttyUSB0
	}
	ti, err := os.Stat(target)
	if err != nil {
		return fmt.Errorf("links directory: %s: %w", path, err)
	}
	if uid, ok := owner(ti); ok && uid != os.Geteuid() {
		return &UnsafeError{Path: path,
			Problem: fmt.Sprintf("points at %s, a pty of uid %d, not yours (uid %d): the simulator that published the link is gone and another user has that pty now", target, uid, os.Geteuid()),
			Fix:     "start encodersim again (it replaces the link), or remove the stale link"}
	}
	return nil
}

// checkOwner refuses fi unless the effective user owns it.
func checkOwner(path string, fi fs.FileInfo, fix string) error {
	uid, ok := owner(fi)
	if !ok {
		return &UnsafeError{Path: path, Problem: "has no owner this system reports", Fix: fix}
	}
	if uid != os.Geteuid() {
		return &UnsafeError{Path: path, Problem: fmt.Sprintf("is owned by uid %d, not by you (uid %d)", uid, os.Geteuid()), Fix: fix}
	}
	return nil
}

func owner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// HeldError says that another running process holds a link's name.
type HeldError struct {
	Link string
	// Holder is what the holder wrote in the lock file, such as
	// "pid 4242: encodersim run first-issue"; "" if it has not yet.
	Holder string
}

func (e *HeldError) Error() string {
	who := "another running process"
	if e.Holder != "" {
		who += " (" + e.Holder + ")"
	}
	return fmt.Sprintf("link %s is held by %s: stop it first, or publish under another directory with --links", e.Link, who)
}

// A Hold is a link's name claimed by this process; Release frees it.
type Hold struct {
	f    *os.File
	path string
}

// LockPath is the lock file of the link at path: ".<name>.lock" beside it.
func LockPath(link string) string {
	return filepath.Join(filepath.Dir(link), "."+filepath.Base(link)+".lock")
}

// Claim claims the name of the link at path for this process, for as long
// as it runs or until Release. The link's directory must exist and pass
// Check. A name another live process holds is refused with a *HeldError;
// a lock file whose holder has gone is taken over.
func Claim(link string) (*Hold, error) { return claim(link, "") }

// ClaimScaled claims the link's name as Claim does and writes in its lock
// file the time scale the device behind the link runs at, for
// HolderScale.
func ClaimScaled(link string, scale float64) (*Hold, error) {
	return claim(link, scaleLine+strconv.FormatFloat(scale, 'g', -1, 64)+"\n")
}

// scaleLine starts the lock file's line that holds the holder's time scale.
const scaleLine = "scale "

func claim(link, notes string) (*Hold, error) {
	if err := Check(filepath.Dir(link)); err != nil {
		return nil, err
	}
	path := LockPath(link)
	// A holder releasing its lock removes the file between our open and
	// our flock now and then; the inode check below sees it and retries.
	for range 16 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", link, err)
		}
		l, retry, err := lockOpen(f, link, path, notes)
		if err != nil || !retry {
			if err != nil {
				f.Close()
			}
			return l, err
		}
		f.Close()
	}
	return nil, fmt.Errorf("lock %s: %s keeps being replaced", link, path)
}

// lockOpen takes the lock on f, the file opened at path.
func lockOpen(f *os.File, link, path, notes string) (l *Hold, retry bool, err error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", link, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, false, &UnsafeError{Path: path, Problem: "is not a regular file", Fix: "remove it"}
	}
	if err := checkOwner(path, fi, "remove it"); err != nil {
		return nil, false, err
	}
	fd := int(f.Fd())
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			b, _ := io.ReadAll(io.LimitReader(f, 512))
			who, _, _ := strings.Cut(string(b), "\n")
			return nil, false, &HeldError{Link: link, Holder: strings.TrimSpace(who)}
		}
		return nil, false, fmt.Errorf("lock %s: flock %s: %w", link, path, err)
	}
	var held, now unix.Stat_t
	if err := unix.Fstat(fd, &held); err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", link, err)
	}
	if err := unix.Lstat(path, &now); err != nil || now.Dev != held.Dev || now.Ino != held.Ino {
		return nil, true, nil // removed by its last holder after we opened it
	}
	if err := f.Truncate(0); err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", link, err)
	}
	if _, err := f.WriteAt([]byte(holder()+"\n"+notes), 0); err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", link, err)
	}
	return &Hold{f: f, path: path}, false, nil
}

// holder describes this process for a lock file: its pid and command.
func holder() string {
	args := append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...)
	cmd := strings.Join(args, " ")
	if len(cmd) > 200 {
		cmd = cmd[:200] + "…"
	}
	return fmt.Sprintf("pid %d: %s", os.Getpid(), cmd)
}

// HolderScale returns the time scale the live holder of the link's name
// wrote with ClaimScaled, and the holder's line ("pid 4242: encodersim
// run first-issue"). ok is false when nobody holds the name, its holder
// has died, or it wrote no scale (a recording tap in front of a real
// device, an older simulator).
func HolderScale(link string) (scale float64, holder string, ok bool) {
	f, err := os.OpenFile(LockPath(link), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return 0, "", false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return 0, "", false
	}
	lines := strings.Split(string(b), "\n")
	holder = strings.TrimSpace(lines[0])
	if !alive(holder) {
		return 0, "", false
	}
	for _, l := range lines[1:] {
		if v, found := strings.CutPrefix(l, scaleLine); found {
			s, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || s <= 0 {
				return 0, "", false
			}
			return s, holder, true
		}
	}
	return 0, "", false
}

// alive reports whether the process a holder line names ("pid N: …")
// still runs: a killed holder leaves its lock file behind.
func alive(holder string) bool {
	v, found := strings.CutPrefix(holder, "pid ")
	if !found {
		return false
	}
	v, _, _ = strings.Cut(v, ":")
	pid, err := strconv.Atoi(v)
	if err != nil || pid <= 0 {
		return false
	}
	err = unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// Release frees the name: it removes the lock file, then drops the lock.
// Calls after the first return nil.
func (l *Hold) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := os.Remove(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	err = errors.Join(err, l.f.Close())
	l.f = nil
	if err != nil {
		return fmt.Errorf("release %s: %w", l.path, err)
	}
	return nil
}

// Links are the symlinks one line publishes to its target (a tty, a
// socket): Publish points a path at the target, Remove takes back the
// ones still pointing there. The zero value is ready; it is not safe for
// concurrent use (its owner serialises).
type Links struct {
	paths []string
}

// Publish makes path a symlink to target, creating its directory (mode
// 0700) as needed. A directory another user owns or may write is refused
// (Check): whoever controls it would choose what clients of the link
// talk to. An existing file or link at path is replaced atomically, by
// renaming a fresh symlink over it: a client opening path sees the old
// target or the new one, never nothing.
func (ls *Links) Publish(target, path string) error {
	dir := filepath.Dir(path)
	if err := Prepare(dir); err != nil {
		return err
	}
	published := false
	for range 100 {
		tmp := filepath.Join(dir, "."+filepath.Base(path)+".tmp"+strconv.FormatUint(rand.Uint64(), 36))
		err := os.Symlink(target, tmp)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return err
		}
		published = true
		break
	}
	if !published {
		return errors.New("no free temporary name for the symlink")
	}
	if !slices.Contains(ls.paths, path) {
		ls.paths = append(ls.paths, path)
	}
	return nil
}

// Remove removes the published links that still point at target; a link
// another line has since taken over is left alone. Readlink then Remove
// is not atomic: a link another line publishes in between is lost. A name
// has one owner at a time in practice (the previous owner is closing), so
// the window is accepted.
func (ls *Links) Remove(target string) error {
	var errs []error
	for _, link := range ls.paths {
		if got, err := os.Readlink(link); err != nil || got != target {
			continue
		}
		if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove link: %w", err))
		}
	}
	ls.paths = nil
	return errors.Join(errs...)
}
