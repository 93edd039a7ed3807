package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
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
	var w walFile
	f, err := os.Open(walPath(db))
	if errors.Is(err, fs.ErrNotExist) {
		return w, nil
	}
	if err != nil {
		return w, err
	}
	defer f.Close()
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
