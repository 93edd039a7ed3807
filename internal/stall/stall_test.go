package stall

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLongestPicksTheLongestOverlapping(t *testing.T) {
	base := time.Now()
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	m := &Meter{}
	m.add(Stall{CPU: 0, Start: at(0), End: at(50)})
	m.add(Stall{CPU: 1, Start: at(100), End: at(400)})
	m.add(Stall{CPU: 0, Start: at(500), End: at(520)})

	cases := []struct {
		from, to int
		want     time.Duration // 0: none
	}{
		{0, 1000, 300 * time.Millisecond},
		{450, 1000, 20 * time.Millisecond},
		{390, 395, 300 * time.Millisecond}, // inside the long one
		{60, 90, 0},
		{530, 900, 0},
	}
	for _, c := range cases {
		s, ok := m.Longest(at(c.from), at(c.to))
		if c.want == 0 {
			if ok {
				t.Errorf("Longest(%d ms, %d ms) = %v; want none", c.from, c.to, s.Length())
			}
			continue
		}
		if !ok || s.Length() != c.want {
			t.Errorf("Longest(%d ms, %d ms) = %v, %v; want %v", c.from, c.to, s.Length(), ok, c.want)
		}
	}
}

func TestRingKeepsTheLatest(t *testing.T) {
	base := time.Now()
	m := &Meter{}
	for i := range keep + 10 {
		start := base.Add(time.Duration(i) * time.Second)
		m.add(Stall{Start: start, End: start.Add(time.Duration(i) * time.Microsecond)})
	}
	if len(m.stalls) != keep {
		t.Fatalf("kept %d stalls; want %d", len(m.stalls), keep)
	}
	if _, ok := m.Longest(base, base.Add(9*time.Second)); ok {
		t.Error("the oldest stalls are still there after the ring wrapped")
	}
	s, ok := m.Longest(base.Add(time.Duration(keep+9)*time.Second), base.Add(time.Duration(keep+9)*time.Second))
	if !ok || s.Length() != time.Duration(keep+9)*time.Microsecond {
		t.Errorf("the latest stall: %v, %v", s.Length(), ok)
	}
}

// The meter's own process is stopped (SIGSTOP) for a known time: every
// probe then wakes at least that late, and the meter must say so.
func TestSeesAProcessStopped(t *testing.T) {
	if os.Getenv("STALL_CHILD") == "1" {
		child()
		return
	}
	if testing.Short() {
		t.Skip("stops a child process for 300 ms")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSeesAProcessStopped$")
	cmd.Env = append(os.Environ(), "STALL_CHILD=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	expect := func(prefix string) string {
		t.Helper()
		for lines.Scan() {
			if l := lines.Text(); strings.HasPrefix(l, prefix) {
				return strings.TrimPrefix(l, prefix)
			}
		}
		t.Fatalf("the child ended before saying %q: %v", prefix, lines.Err())
		return ""
	}
	expect("probing")
	const stopped = 300 * time.Millisecond
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(stopped) // the stall under test: its length is the point
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(in, "report")
	got, err := time.ParseDuration(expect("longest "))
	if err != nil {
		t.Fatal(err)
	}
	// The probe slept through the stop; it may have woken later still,
	// never earlier.
	if got < stopped-Period {
		t.Errorf("longest stall %v; the process was stopped for %v", got, stopped)
	}
	cmd.Wait()
}

func child() {
	start := time.Now()
	m := Start()
	fmt.Println("probing")
	bufio.NewScanner(os.Stdin).Scan()
	// The probes wake from the stop on their own time: wait for a stall
	// to be recorded, or report none.
	var s Stall
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(Period) {
		if got, ok := m.Longest(start, time.Now()); ok && got.Length() >= 200*time.Millisecond {
			s = got
			break
		}
	}
	m.Stop()
	fmt.Printf("longest %v\n", s.Length())
}
