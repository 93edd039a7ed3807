package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// WAL file layout (https://www.sqlite.org/fileformat2.html#walformat): a
// 32-byte header, then frames of a 24-byte frame header and one page.
const (
	walHeaderSize      = 32
	walFrameHeaderSize = 24
	walMagicLE         = 0x377f0682 // checksums on little-endian words
	walMagicBE         = 0x377f0683 // checksums on big-endian words
	walFormatVersion   = 3007000
)

// walFile is the -wal file as found on disk.
type walFile struct {
	exists bool
	size   int64
	// header: the file has a whole header with the right magic, version
	// and checksum; pageSize and the salts are then its values.
	header       bool
	pageSize     uint32
	salt1, salt2 uint32
}

func walPath(db string) string { return db + "-wal" }

// readWAL looks at db's WAL without SQLite: its size and its header.
func readWAL(db string) (walFile, error) {
	f, err := os.Open(walPath(db))
	if errors.Is(err, fs.ErrNotExist) {
		return walFile{}, nil
	}
	if err != nil {
		return walFile{}, err
	}
	defer f.Close()
	return statWAL(f)
}

// statWAL reads the size and the header of the WAL open as f.
func statWAL(f *os.File) (walFile, error) {
	var w walFile
	st, err := f.Stat()
	if err != nil {
		return w, err
	}
	w.exists, w.size = true, st.Size()
	var h [walHeaderSize]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return w, nil // shorter than a header
		}
		return w, err
	}
	magic := binary.BigEndian.Uint32(h[0:])
	if magic != walMagicLE && magic != walMagicBE || binary.BigEndian.Uint32(h[4:]) != walFormatVersion {
		return w, nil
	}
	s0, s1 := walChecksum(h[:24], magic == walMagicBE)
	if s0 != binary.BigEndian.Uint32(h[24:]) || s1 != binary.BigEndian.Uint32(h[28:]) {
		return w, nil
	}
	w.header = true
	w.pageSize = binary.BigEndian.Uint32(h[8:])
	w.salt1, w.salt2 = binary.BigEndian.Uint32(h[16:]), binary.BigEndian.Uint32(h[20:])
	return w, nil
}

// walChecksum is the WAL's checksum of b (a multiple of 8 bytes) from
// zero seeds: for each pair of 32-bit words x0, x1, s0 += x0 + s1 and
// s1 += x1 + s0, the words read in the byte order the magic names.
func walChecksum(b []byte, bigEndian bool) (s0, s1 uint32) {
	var order binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		order = binary.BigEndian
	}
	for i := 0; i+8 <= len(b); i += 8 {
		s0 += order.Uint32(b[i:]) + s1
		s1 += order.Uint32(b[i+4:]) + s0
	}
	return s0, s1
}

// whole reports whether the file is a header and a whole number of
// frames (or empty: a WAL checkpointed with TRUNCATE).
func (w walFile) whole() bool {
	if w.size == 0 {
		return true
	}
	if !w.header || w.size < walHeaderSize {
		return false
	}
	return (w.size-walHeaderSize)%(walFrameHeaderSize+int64(w.pageSize)) == 0
}

// mark is what the sidecar keeps of w after a commit.
func (w walFile) mark() (walMark, bool) {
	if !w.exists || !w.header {
		return walMark{}, false
	}
	return walMark{salt1: w.salt1, salt2: w.salt2, size: w.size}, true
}

// checkWAL compares the WAL with what the sidecar remembers, before
// SQLite opens it, and describes what is wrong, if anything. The rules,
// and why a torn last frame can be legitimate, are in docs/store.md:
//
//   - the last run did not close the store and the WAL is gone: the
//     commits it held are lost;
//   - the WAL is the generation the mark was taken in (same salts) and
//     shorter than the mark: it was cut, and acknowledged commits with it;
//   - the mark is of a WAL that had a header and the WAL has none now;
//   - the WAL is not a header and whole frames (a cut in the middle of a
//     frame), unless what follows the mark is all that is torn: a process
//     killed while it wrote a frame of a transaction it had not committed
//     leaves that, and SQLite ignores it.
func checkWAL(db string, sc *sidecar) (string, error) {
	w, err := readWAL(db)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", walPath(db), err)
	}
	p := walPath(db)
	if !w.exists {
		if sc.rec.state == stateOpen {
			return fmt.Sprintf("the last run did not close the store cleanly and its WAL file %s, which held the commits not yet copied into the database, is missing", p), nil
		}
		return "", nil
	}
	m, marked := sc.wal, sc.hasWAL
	sameGen := marked && w.header && w.salt1 == m.salt1 && w.salt2 == m.salt2
	switch {
	case marked && m.size >= walHeaderSize && !w.header:
		return fmt.Sprintf("the WAL file %s is %d bytes without a valid header, but held %d bytes after the last acknowledged commit: it was cut or overwritten", p, w.size, m.size), nil
	case sameGen && w.size < m.size:
		return fmt.Sprintf("the WAL file %s is %d bytes, shorter than the %d bytes it held after the last acknowledged commit: it was cut", p, w.size, m.size), nil
	case !w.whole() && !(sameGen && w.size >= m.size):
		return fmt.Sprintf("the WAL file %s is %d bytes, not a header and a whole number of frames: it was cut", p, w.size), nil
	}
	return "", nil
}

// The WAL index (the -shm file, https://www.sqlite.org/walformat.html)
// starts with a 48-byte header, in the machine's byte order, of which
// markWAL reads szPage (u16 at 14; 1 means 65536), mxFrame (u32 at 16:
// the last committed frame) and aSalt (8 bytes at 32, copied as they are
// from the WAL header). SQLite keeps two copies of the header and writes
// the first one last; read after this store's own commit, on the file's
// only writer, it holds what that commit left.
const walIndexHeaderSize = 48

// mapIndex maps the start of db's -shm file read-only, or returns nil.
func mapIndex(db string) []byte {
	f, err := os.Open(db + "-shm")
	if err != nil {
		return nil
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, walIndexHeaderSize, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil
	}
	return m
}

// indexMark is the mark of the WAL as the index describes it: its salts
// and the size of its header and committed frames.
func indexMark(shm []byte) (walMark, bool) {
	if len(shm) < walIndexHeaderSize || shm[12] != 1 {
		return walMark{}, false
	}
	page := int64(binary.NativeEndian.Uint16(shm[14:]))
	if page == 1 {
		page = 65536
	}
	frames := int64(binary.NativeEndian.Uint32(shm[16:]))
	if page < 512 {
		return walMark{}, false
	}
	size := int64(0)
	if frames > 0 {
		size = walHeaderSize + frames*(walFrameHeaderSize+page)
	}
	return walMark{salt1: binary.BigEndian.Uint32(shm[32:]), salt2: binary.BigEndian.Uint32(shm[36:]), size: size}, true
}
