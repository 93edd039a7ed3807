package sqlite

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The sidecar is a small file next to the database, <db>.encoderlab,
// that remembers what the database file itself cannot: that a store was
// initialised at this path (so an emptied or missing file is noticed),
// which store it was (its id, also kept in the database's meta table, so
// a file swapped for another store's is noticed), whether the last run
// closed cleanly (so a WAL lost after a crash is noticed), and the WAL
// as it was after the last acknowledged commit (so a WAL cut short is
// noticed). Its flock keeps a second process off the file unless every
// process opened it shared.
//
// The file is two 512-byte blocks, each a few lines of text ending in a
// CRC-32 of the lines before it, overwritten in place with one pwrite
// each:
//
//	block 0: "encoderlab sqlite store", "id <id>", "state open|closed",
//	         "created <RFC 3339>"; written, then fsynced, when the store is
//	         initialised, opened and closed.
//	block 1: "wal <salt-1> <salt-2> <size>" or "wal none"; written after
//	         each commit without an fsync (it only lowers a bound when it
//	         is stale; see docs/store.md).
const (
	sidecarSuffix = ".encoderlab"
	blockSize     = 512
	sidecarMagic  = "encoderlab sqlite store"
)

// Store states kept in the sidecar.
const (
	stateOpen   = "open"   // a process has the store open, or died with it open
	stateClosed = "closed" // the last process wrote everything and closed it
)

// sidecar is the open sidecar file and what it said when opened.
type sidecar struct {
	path string
	f    *os.File
	// created: this Open made the file (or found it empty), so a failed
	// Open removes it again.
	created bool

	rec    sideRecord // block 0; rec.id == "" when the file had none
	bad    string     // why block 0 is unreadable, when it is
	wal    walMark
	hasWAL bool // block 1 holds a mark

	// mapped is the file's two blocks mapped into memory (MAP_SHARED),
	// once the store is open: writing a mark is a copy into it, with no
	// system call and no inode change per commit (see writeMark).
	mapped []byte
}

// sideRecord is block 0.
type sideRecord struct {
	id      string
	state   string
	created time.Time
}

// walMark is block 1: the WAL's salts and size after a commit. A WAL
// with the same salts (the same generation: SQLite draws new salts each
// time it starts the WAL over) can only have grown since.
type walMark struct {
	salt1, salt2 uint32
	size         int64
}

func sidecarPath(db string) string { return db + sidecarSuffix }

// openSidecar opens the sidecar of db, creating it if need be.
func openSidecar(db string) (*sidecar, error) {
	p := sidecarPath(db)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sidecar %s: %w", p, err)
	}
	return &sidecar{path: p, f: f}, nil
}

// lockMode is how an Open holds the sidecar's flock.
type lockMode int

const (
	// lockAlone: exclusive for the store's whole life (Options.Shared off).
	lockAlone lockMode = iota
	// lockFirst: exclusive while the first of several shared processes
	// checks the files, then shared.
	lockFirst
	// lockJoin: shared, joining processes already running shared.
	lockJoin
)

// sharedRetry bounds how long a shared Open waits for a shared process
// that is still checking the files (it holds the lock exclusively for a
// few file reads) before taking the lock to be a non-shared process's.
const sharedRetry = 2 * time.Second

// lock takes the flock: exclusively when shared is false, and otherwise
// exclusively if no one holds it (this process is the first and checks
// the files) or shared alongside other shared processes. A process that
// does not share refuses to join shared ones and the other way round.
// The kernel drops a flock when its process dies, so a crash leaves no
// stale lock.
func (sc *sidecar) lock(shared bool) (lockMode, error) {
	fd := int(sc.f.Fd())
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err == nil {
		if shared {
			return lockFirst, nil
		}
		return lockAlone, nil
	} else if !errors.Is(err, unix.EWOULDBLOCK) {
		return 0, fmt.Errorf("locking %s: %w", sc.path, err)
	}
	if !shared {
		// Who holds it? A shared lock succeeds only beside shared holders.
		if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err == nil {
			_ = unix.Flock(fd, unix.LOCK_UN)
			return 0, fmt.Errorf("%w: processes that share it (Options.Shared) have it open; open it shared too to join them", ErrInUse)
		}
		return 0, fmt.Errorf("%w: another process has it open (lock on %s); stop it, or open every one shared (Options.Shared) to run several on one file", ErrInUse, sc.path)
	}
	bound := time.Now().Add(sharedRetry)
	for {
		err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB)
		if err == nil {
			return lockJoin, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return 0, fmt.Errorf("locking %s: %w", sc.path, err)
		}
		if time.Now().After(bound) {
			return 0, fmt.Errorf("%w: a process that does not share it has it open (lock on %s); stop it, or open every one shared (Options.Shared)", ErrInUse, sc.path)
		}
		time.Sleep(20 * time.Millisecond) // bounded by sharedRetry
	}
}

// share turns the exclusive lock of lockFirst into a shared one. flock
// converts by unlocking first, so another process may slip in between;
// then this Open refuses rather than wait.
func (sc *sidecar) share() error {
	if err := unix.Flock(int(sc.f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return fmt.Errorf("%w: another process took the lock on %s while this one started", ErrInUse, sc.path)
	}
	return nil
}

// last reports whether this process is the only one holding the lock, by
// trying to make it exclusive. A failed try may drop the lock: call it
// only when closing.
func (sc *sidecar) last() bool {
	return unix.Flock(int(sc.f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}

// read loads both blocks. An empty file is a sidecar never written.
func (sc *sidecar) read() error {
	st, err := sc.f.Stat()
	if err != nil {
		return fmt.Errorf("sidecar %s: %w", sc.path, err)
	}
	if st.Size() == 0 {
		sc.created = true
		return nil
	}
	buf := make([]byte, 2*blockSize)
	n, err := sc.f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("sidecar %s: %w", sc.path, err)
	}
	if n < blockSize {
		sc.bad = fmt.Sprintf("it is %d bytes, shorter than its first block (%d)", n, blockSize)
		return nil
	}
	lines, err := readBlock(buf[:blockSize])
	if err == nil {
		sc.rec, err = parseRecord(lines)
	}
	if err != nil {
		sc.bad = err.Error()
	}
	if n == 2*blockSize {
		if lines, err := readBlock(buf[blockSize:]); err == nil {
			sc.wal, sc.hasWAL = parseMark(lines)
		}
	}
	return nil
}

// readBlock checks a block's CRC and returns its lines before it.
func readBlock(b []byte) ([]string, error) {
	b = bytes.TrimRight(b, "\x00 \n")
	i := bytes.LastIndex(b, []byte("\ncrc "))
	if i < 0 {
		return nil, errors.New("it has no checksum line")
	}
	body, sum := b[:i+1], strings.TrimSpace(string(b[i+5:]))
	want, err := strconv.ParseUint(sum, 16, 32)
	if err != nil || uint32(want) != crc32.ChecksumIEEE(body) {
		return nil, errors.New("its checksum does not match its content")
	}
	return strings.Split(strings.TrimSuffix(string(body), "\n"), "\n"), nil
}

func parseRecord(lines []string) (sideRecord, error) {
	var r sideRecord
	if len(lines) == 0 || lines[0] != sidecarMagic {
		return r, errors.New("it does not start with " + strconv.Quote(sidecarMagic))
	}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		switch k {
		case "id":
			r.id = v
		case "state":
			r.state = v
		case "created":
			r.created, _ = time.Parse(time.RFC3339, v)
		}
	}
	if r.id == "" || (r.state != stateOpen && r.state != stateClosed) {
		return sideRecord{}, errors.New("it has no store id or no valid state")
	}
	return r, nil
}

func parseMark(lines []string) (walMark, bool) {
	if len(lines) != 1 {
		return walMark{}, false
	}
	f := strings.Fields(lines[0])
	if len(f) != 4 || f[0] != "wal" {
		return walMark{}, false
	}
	s1, err1 := strconv.ParseUint(f[1], 16, 32)
	s2, err2 := strconv.ParseUint(f[2], 16, 32)
	size, err3 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || size < 0 {
		return walMark{}, false
	}
	return walMark{salt1: uint32(s1), salt2: uint32(s2), size: size}, true
}

// block pads lines, with their checksum line, to one block.
func block(lines ...string) []byte {
	body := strings.Join(lines, "\n") + "\n"
	b := fmt.Appendf(nil, "%scrc %08x\n", body, crc32.ChecksumIEEE([]byte(body)))
	if len(b) > blockSize {
		panic("sqlite: sidecar block overflows") // lines are ours and short
	}
	return append(b, bytes.Repeat([]byte{'\n'}, blockSize-len(b))...)
}

// writeRecord writes block 0 and fsyncs it (and, the first time, the
// directory, so the file's name survives a power loss too).
func (sc *sidecar) writeRecord(r sideRecord) error {
	b := block(sidecarMagic, "id "+r.id, "state "+r.state, "created "+r.created.UTC().Format(time.RFC3339))
	if _, err := sc.f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("writing %s: %w", sc.path, err)
	}
	if err := sc.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", sc.path, err)
	}
	if sc.created {
		if d, err := os.Open(filepath.Dir(sc.path)); err == nil {
			_ = d.Sync()
			d.Close()
		}
		sc.created = false
	}
	sc.rec = r
	return nil
}

// writeMark writes block 1, without an fsync: a crash of the process
// keeps it (the kernel has it), and a power loss can only leave an older
// mark, which asks less of the WAL.
//
// Once the file is mapped the mark is copied into the mapping, with no
// system call: a commit pays for a few memory copies, not for I/O.
func (sc *sidecar) writeMark(m walMark, ok bool) error {
	line := "wal none"
	if ok {
		line = fmt.Sprintf("wal %08x %08x %d", m.salt1, m.salt2, m.size)
	}
	b := block(line)
	if sc.mapped != nil {
		copy(sc.mapped[blockSize:], b)
		return nil
	}
	if _, err := sc.f.WriteAt(b, blockSize); err != nil {
		return fmt.Errorf("writing %s: %w", sc.path, err)
	}
	return nil
}

// mapMarks maps the file's blocks for writeMark; the file must have both
// blocks already. Without a mapping, marks are written with pwrite.
func (sc *sidecar) mapMarks() {
	m, err := unix.Mmap(int(sc.f.Fd()), 0, 2*blockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err == nil {
		sc.mapped = m
	}
}

// close releases the mapping, the lock and the file.
func (sc *sidecar) close() error {
	if sc.mapped != nil {
		_ = unix.Munmap(sc.mapped)
		sc.mapped = nil
	}
	return sc.f.Close()
}

// discard closes the sidecar and, when this Open created it, removes it:
// a refused Open leaves the directory as it found it.
func (sc *sidecar) discard() {
	if sc.created {
		_ = os.Remove(sc.path)
	}
	_ = sc.close()
}
