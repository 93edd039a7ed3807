package pcsc

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// The message layer of pcsc-lite 1.9.9 (winscard_msg.h): a request is an
// rxHeader {uint32 size, uint32 command} and the command's struct (size
// is the struct's length), a reply is the bare struct. Every field is a
// 32-bit integer in the host's byte order, little-endian on the machines
// pcscd runs on here (amd64, arm64), and the structs have no padding but
// READER_STATE's after cardAtr.

// Protocol version this client speaks (PROTOCOL_VERSION_MAJOR/MINOR).
const (
	protocolMajor = 4
	protocolMinor = 4
)

// Commands (enum pcsc_msg_commands).
const (
	cmdEstablishContext             = 0x01
	cmdReleaseContext               = 0x02
	cmdConnect                      = 0x04
	cmdReconnect                    = 0x05
	cmdDisconnect                   = 0x06
	cmdBeginTransaction             = 0x07
	cmdEndTransaction               = 0x08
	cmdTransmit                     = 0x09
	cmdVersion                      = 0x11
	cmdGetReadersState              = 0x12
	cmdWaitReaderStateChange        = 0x13
	cmdStopWaitingReaderStateChange = 0x14
)

// Sizes (pcsclite.h, winscard_msg.h, eventhandler.h).
const (
	headerSize     = 8
	maxReaderName  = 128            // MAX_READERNAME, with the terminating NUL
	maxATRSize     = 33             // MAX_ATR_SIZE
	maxReaders     = 16             // PCSCLITE_MAX_READERS_CONTEXTS
	atrNotYetRead  = maxATRSize + 1 // READER_NOT_INITIALIZED: pcscd has not powered the card yet
	ioRequestSize  = 16             // sizeof(SCARD_IO_REQUEST): two unsigned longs on LP64
	scopeSystem    = 0x0002         // SCARD_SCOPE_SYSTEM
	versionSize    = 12             // version_struct: major, minor, rv
	establishSize  = 12             // establish_struct: dwScope, hContext, rv
	releaseSize    = 8              // release_struct: hContext, rv
	connectSize    = 4 + maxReaderName + 5*4
	reconnectSize  = 24 // reconnect_struct: hCard, share, protocols, initialization, active, rv
	disconnectSize = 12 // disconnect_struct: hCard, dwDisposition, rv
	beginSize      = 8  // begin_struct: hCard, rv
	endSize        = 12 // end_struct: hCard, dwDisposition, rv
	transmitSize   = 32 // transmit_struct: 8 fields
	waitSize       = 8  // wait_reader_state_change: timeOut, rv

	// readerStateSize is READER_STATE: readerName[128], eventCounter,
	// readerState, readerSharing, cardAtr[33], 3 bytes of padding to
	// align cardAtrLength, cardAtrLength, cardProtocol.
	readerStateSize  = maxReaderName + 3*4 + maxATRSize + 3 + 2*4
	readersStateSize = maxReaders * readerStateSize
)

// MaxBufferSizeExtended is the longest APDU and the longest response
// pcscd moves (MAX_BUFFER_SIZE_EXTENDED: a 64 KiB extended APDU, its
// header, Lc, Le and the status word).
const MaxBufferSizeExtended = 4 + 3 + (1 << 16) + 3 + 2

// request is a header and a struct of 32-bit fields.
func request(cmd uint32, fields ...uint32) []byte {
	b := make([]byte, 0, headerSize+4*len(fields))
	b = binary.LittleEndian.AppendUint32(b, uint32(4*len(fields)))
	b = binary.LittleEndian.AppendUint32(b, cmd)
	for _, f := range fields {
		b = binary.LittleEndian.AppendUint32(b, f)
	}
	return b
}

// connectRequest is SCARD_CONNECT's: connect_struct with the reader's
// name NUL-padded to 128 bytes.
func connectRequest(hContext uint32, reader string, share ShareMode, protocols Protocol) []byte {
	b := make([]byte, 0, headerSize+connectSize)
	b = binary.LittleEndian.AppendUint32(b, connectSize)
	b = binary.LittleEndian.AppendUint32(b, cmdConnect)
	b = binary.LittleEndian.AppendUint32(b, hContext)
	var name [maxReaderName]byte
	copy(name[:maxReaderName-1], reader)
	b = append(b, name[:]...)
	for _, f := range []uint32{uint32(share), uint32(protocols), 0, 0, 0} { // hCard, dwActiveProtocol, rv
		b = binary.LittleEndian.AppendUint32(b, f)
	}
	return b
}

// fields reads n 32-bit fields of a reply struct.
func fields(b []byte, n int) []uint32 {
	f := make([]uint32, n)
	for i := range f {
		f[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return f
}

// connectReply is connect_struct's reply: hCard, dwActiveProtocol, rv.
func connectReply(b []byte) (hCard int32, active Protocol, rv Code) {
	f := fields(b[4+maxReaderName:], 5)
	return int32(f[2]), Protocol(f[3]), Code(f[4])
}

// decodeReaderStates reads CMD_GET_READERS_STATE's reply (and
// CMD_WAIT_READER_STATE_CHANGE's first): the daemon's 16 reader slots,
// of which those with a name are readers. Impossible records (a name
// without its NUL, an ATR longer than 33 bytes) are errors, not guesses.
func decodeReaderStates(b []byte) ([]Reader, error) {
	if len(b) != readersStateSize {
		return nil, fmt.Errorf("readers' state is %d bytes, want %d", len(b), readersStateSize)
	}
	var rs []Reader
	for i := range maxReaders {
		rec := b[i*readerStateSize : (i+1)*readerStateSize]
		if rec[0] == 0 {
			continue // an empty slot
		}
		end := bytes.IndexByte(rec[:maxReaderName], 0)
		if end < 0 {
			return nil, fmt.Errorf("reader slot %d: the name has no NUL in %d bytes", i, maxReaderName)
		}
		f := fields(rec[maxReaderName:], 3)
		r := Reader{
			Name:         string(rec[:end]),
			EventCounter: f[0],
			State:        State(f[1]),
			Sharing:      int32(f[2]),
		}
		tail := fields(rec[maxReaderName+3*4+maxATRSize+3:], 2)
		n, proto := tail[0], tail[1]
		switch {
		case n == atrNotYetRead:
			// pcscd has not powered the card yet: no ATR to report.
		case n > maxATRSize:
			return nil, fmt.Errorf("reader %q: ATR length %d, longer than an ATR (%d)", r.Name, n, maxATRSize)
		case n > 0:
			atr := rec[maxReaderName+3*4:]
			r.ATR = append([]byte(nil), atr[:n]...)
		}
		r.Protocol = Protocol(proto)
		rs = append(rs, r)
	}
	return rs, nil
}
