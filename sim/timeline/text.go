package timeline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/encoderlab/encoderlab/sim/trace"
)

// WriteText writes the trace's frames as text, one line each: the time
// from the first byte, the direction (→ host to device, ← device to
// host), the decoded frame, and marks for an error and the failing
// exchange. outcome is as for Decode; empty means the header's.
func WriteText(w io.Writer, t *trace.Trace, outcome string) error {
	if t == nil {
		return errors.New("timeline: no trace")
	}
	if outcome == "" {
		outcome = t.Header.Outcome
	}
	bw := bufio.NewWriter(w)
	for _, line := range TextLines(Decode(t, outcome)) {
		fmt.Fprintln(bw, line)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	return nil
}

// TextLines is frames as WriteText writes them.
func TextLines(frames []Frame) []string {
	var out []string
	for _, f := range frames {
		arrow := "→"
		if f.Dir == trace.DeviceToHost {
			arrow = "←"
		}
		if f.Kind == KindNote {
			arrow = "—"
		}
		var marks []string
		if f.Error {
			marks = append(marks, "error")
		}
		if f.Failing {
			marks = append(marks, "failing exchange")
		}
		line := fmt.Sprintf("%12s %s %s", stamp(f.Start), arrow, f.Text())
		if len(marks) > 0 {
			line += "  [" + strings.Join(marks, ", ") + "]"
		}
		out = append(out, line)
	}
	return out
}
