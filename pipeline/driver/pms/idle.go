package pms

import (
	"reflect"
	"sync"

	"github.com/encoderlab/encoderlab/pipeline/driver"
)

// maxIdleLines bounds idleLines. A port closed without the driver
// noticing (the attempt worker drops and reopens ports on its own) stays
// in the set; past the bound the set is emptied, which costs each line one
// resynchronisation and is never wrong.
const maxIdleLines = 256

// line is one device on one port: the port value as the caller passes it,
// and the encoder address.
type line struct {
	port driver.Port
	addr string
}

// idleLines is the set of lines whose device the driver's last exchange
// left owing nothing: its answer was read and understood, or its cancel
// was answered CC. An exchange on any other line (a freshly opened port,
// or one whose last exchange ended in doubt) resynchronises first.
//
// With each line it keeps the answer frame that exchange ACKed last and
// the command frame it sent. The host's ACK to the answer may have been
// lost, and then the device re-sends it until the next command reaches
// it; a copy that crosses that command on the line must be known for a
// retransmission, not taken for the new command's answer. A next command
// identical to the last one would itself be taken by such a device for a
// retransmission of the old command, and answered with the old answer, so
// that exchange resynchronises first. The zero value is empty and ready;
// it is safe for concurrent use.
type idleLines struct {
	mu sync.Mutex
	m  map[line]lastExchange
}

// lastExchange is what the driver's last clean exchange on a line sent
// and ACKed.
type lastExchange struct {
	command, answer []byte
}

// take reports whether l is known idle, with the last clean exchange on
// it, and forgets it: until the exchange now starting ends cleanly,
// nothing is known about the line.
func (s *idleLines) take(l line) (last lastExchange, ok bool) {
	if !keyable(l.port) {
		return lastExchange{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	last, ok = s.m[l]
	delete(s.m, l)
	return last, ok
}

// add records that l's device owes nothing after last.
func (s *idleLines) add(l line, last lastExchange) {
	if !keyable(l.port) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m) >= maxIdleLines {
		s.m = map[line]lastExchange{}
	}
	s.m[l] = last
}

// keyable reports whether p can be a map key: a port whose dynamic type
// is not comparable (a struct holding a slice, say) would make the map
// panic. Such a port is never known idle, so every exchange on it
// resynchronises.
func keyable(p driver.Port) bool {
	return p != nil && reflect.ValueOf(p).Comparable()
}
