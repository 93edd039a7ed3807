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
// With each line it keeps the answer frame that exchange ACKed last. The
// host's ACK to it may have been lost, and then the device re-sends it
// until the next command reaches it; a copy that crosses that command on
// the line must be known for a retransmission, not taken for the new
// command's answer. The zero value is empty and ready; it is safe for
// concurrent use.
type idleLines struct {
	mu sync.Mutex
	m  map[line][]byte
}

// take reports whether l is known idle, with the answer frame last ACKed
// on it, and forgets it: until the exchange now starting ends cleanly,
// nothing is known about the line.
func (s *idleLines) take(l line) (lastAnswer []byte, ok bool) {
	if !keyable(l.port) {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lastAnswer, ok = s.m[l]
	delete(s.m, l)
	return lastAnswer, ok
}

// add records that l's device owes nothing, and lastAnswer is the answer
// frame last ACKed on it.
func (s *idleLines) add(l line, lastAnswer []byte) {
	if !keyable(l.port) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m) >= maxIdleLines {
		s.m = map[line][]byte{}
	}
	s.m[l] = lastAnswer
}

// keyable reports whether p can be a map key: a port whose dynamic type
// is not comparable (a struct holding a slice, say) would make the map
// panic. Such a port is never known idle, so every exchange on it
// resynchronises.
func keyable(p driver.Port) bool {
	return p != nil && reflect.ValueOf(p).Comparable()
}
