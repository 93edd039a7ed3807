package pcscd

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"

	"golang.org/x/sys/unix"
)

// ReadMessage reads one of vpcd's messages from a card's connection
// (DialCard), or from any stream of them: a 2-byte big-endian length,
// then the payload, which it returns. vpcd sends a 1-byte control (00
// power off, 01 power on, 02 reset, 04 the ATR) or an APDU; a card
// answers the ATR and each APDU, and an empty answer is its eject.
//
// On a TCP connection it first has the kernel acknowledge what arrives at
// once: vpcd (virtualsmartcard 0.8) writes a message's length and its
// payload separately, without TCP_NODELAY, so Nagle holds the payload
// until the length is acknowledged, and a delayed acknowledgement (40 ms
// on Linux) would cost that on every exchange. Linux clears TCP_QUICKACK
// as it goes, hence once per message.
func ReadMessage(r io.Reader) ([]byte, error) {
	if tc, ok := r.(*net.TCPConn); ok {
		quickAck(tc)
	}
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// WriteMessage writes payload as one of vpcd's messages, in one write.
func WriteMessage(w io.Writer, payload []byte) error {
	if len(payload) > 0xFFFF {
		return fmt.Errorf("vpcd message of %d bytes: at most 65535", len(payload))
	}
	_, err := w.Write(append(binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(payload)), uint16(len(payload))), payload...))
	return err
}

func quickAck(tc *net.TCPConn) {
	if raw, err := tc.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
		})
	}
}
