package bench

import (
	"math"
	"strings"
	"testing"
	"time"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentileNearestRank(t *testing.T) {
	ten := ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	for _, tc := range []struct {
		sample []time.Duration
		p      float64
		want   time.Duration
	}{
		{ten, 50, 5 * time.Millisecond},
		{ten, 90, 9 * time.Millisecond},
		{ten, 99, 10 * time.Millisecond},
		{ten, 100, 10 * time.Millisecond},
		{ten, 0.1, 1 * time.Millisecond},
		{ten, 10, 1 * time.Millisecond},
		{ten, 11, 2 * time.Millisecond},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(1, 2), 50, 1 * time.Millisecond},
		{ms(1, 2), 51, 2 * time.Millisecond},
	} {
		got, err := Percentile(tc.sample, tc.p)
		if err != nil || got != tc.want {
			t.Errorf("Percentile(%v, %v) = %v, %v; want %v, nil", tc.sample, tc.p, got, err, tc.want)
		}
	}
	for _, p := range []float64{0, -1, 100.5, math.NaN(), math.Inf(1)} {
		if got, err := Percentile(ten, p); err == nil {
			t.Errorf("Percentile(ten, %v) = %v, nil; want an error", p, got)
		}
	}
	if got, err := Percentile(nil, 50); err == nil {
		t.Errorf("Percentile(nil, 50) = %v, nil; want an error", got)
	}
}

func TestPercentileOf1000(t *testing.T) {
	s := make([]time.Duration, 1000)
	for i := range s {
		s[i] = time.Duration(i + 1)
	}
	for p, want := range map[float64]time.Duration{50: 500, 99: 990, 99.9: 999, 100: 1000} {
		if got, _ := Percentile(s, p); got != want {
			t.Errorf("p%v of 1..1000 = %v, want %v", p, got, want)
		}
	}
}

func TestSummarizeLeavesTheSampleAlone(t *testing.T) {
	in := ms(9, 1, 5, 3, 7)
	s := Summarize(in)
	want := Summary{N: 5, Min: ms(1)[0], P50: ms(5)[0], P90: ms(9)[0], P99: ms(9)[0], Max: ms(9)[0], Mean: ms(5)[0]}
	if s != want {
		t.Errorf("Summarize = %+v, want %+v", s, want)
	}
	if in[0] != 9*time.Millisecond || in[1] != time.Millisecond {
		t.Errorf("Summarize reordered its input: %v", in)
	}
	if z := Summarize(nil); z != (Summary{}) {
		t.Errorf("Summarize(nil) = %+v, want the zero Summary", z)
	}
}

func TestRatio(t *testing.T) {
	for _, tc := range []struct {
		v, l float64
		want string
	}{
		{1, 2, "0.50×"},
		{3, 1, "3.00×"},
		{12.34, 1, "12.3×"},
		{1234, 1, "1234×"},
		{0, 5, "0.00×"},
		{1, 0, None},
		{1, -1, None},
		{-1, 1, None},
		{math.NaN(), 1, None},
		{1, math.Inf(1), None},
	} {
		if got := Ratio(tc.v, tc.l); got != tc.want {
			t.Errorf("Ratio(%v, %v) = %q, want %q", tc.v, tc.l, got, tc.want)
		}
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Duration(812), "812 ns"},
		{Duration(8123), "8.12 µs"},
		{Duration(81234), "81.2 µs"},
		{Duration(1250 * time.Microsecond), "1.25 ms"},
		{Duration(2500 * time.Millisecond), "2.50 s"},
		{Duration(-8123), "-8.12 µs"},
		{Count(0), "0"},
		{Count(999), "999"},
		{Count(4095), "4,095"},
		{Count(1234567), "1,234,567"},
		{Count(-4095), "-4,095"},
		{Rate(4210.4), "4,210/s"},
		{Rate(12.5), "12.5/s"},
		{Rate(math.NaN()), None},
		{Bytes(812), "812 B"},
		{Bytes(3000), "2.93 KiB"},
		{Bytes(1.2 * (1 << 20)), "1.20 MiB"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func sampleTable() *Table {
	tb := NewFigureTable()
	tb.AddFigure(Row{Figure: "pty round trip", Value: "8.12 µs", Limit: "8.00 µs", Ratio: "1.02×", Target: "≤ 20 µs", Verdict: Met})
	tb.AddFigure(Row{Figure: "a|b", Value: "1"})
	return tb
}

func TestWriteTextAlignsColumnsInRunes(t *testing.T) {
	var b strings.Builder
	if err := sampleTable().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want header, rule and 2 rows:\n%s", len(lines), b.String())
	}
	// Every column starts at the same rune offset on every line.
	col := func(line, cell string) int {
		i := strings.Index(line, cell)
		if i < 0 {
			t.Fatalf("%q not in line %q", cell, line)
		}
		return len([]rune(line[:i]))
	}
	if a, b := col(lines[0], "value"), col(lines[2], "8.12 µs"); a != b {
		t.Errorf("value column at %d in the header, %d in the row:\n%s", a, b, strings.Join(lines, "\n"))
	}
	if a, b := col(lines[0], "ratio"), col(lines[2], "1.02×"); a != b {
		t.Errorf("ratio column at %d in the header, %d in the row", a, b)
	}
	if a, b := col(lines[2], "met"), col(lines[0], "verdict"); a != b {
		t.Errorf("verdict column at %d in the row, %d in the header", a, b)
	}
	if !strings.HasPrefix(lines[1], "---") || strings.Trim(lines[1], "- ") != "" {
		t.Errorf("rule line %q is not dashes", lines[1])
	}
	if !strings.Contains(lines[3], None) {
		t.Errorf("empty cells not shown as %q: %q", None, lines[3])
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b strings.Builder
	if err := sampleTable().WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	want := "| figure | value | limit (same run) | ratio | target | verdict |\n" +
		"| --- | --- | --- | --- | --- | --- |\n" +
		"| pty round trip | 8.12 µs | 8.00 µs | 1.02× | ≤ 20 µs | met |\n" +
		"| a\\|b | 1 | — | — | — | — |\n"
	if b.String() != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestShortRowsArePaddedAndLongRowsRefused(t *testing.T) {
	tb := &Table{Header: []string{"a", "b", "c"}}
	tb.Add("1")
	var b strings.Builder
	if err := tb.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if want := "| 1 | — | — |\n"; !strings.HasSuffix(b.String(), want) {
		t.Errorf("short row written as %q, want it to end %q", b.String(), want)
	}
	tb.Add("1", "2", "3", "4")
	if err := tb.WriteText(&b); err == nil {
		t.Error("WriteText accepted a row longer than the header")
	}
	if err := (&Table{}).WriteMarkdown(&b); err == nil {
		t.Error("WriteMarkdown accepted a table without a header")
	}
}

func TestJudge(t *testing.T) {
	if Judge(true) != Met || Judge(false) != Missed {
		t.Errorf("Judge(true), Judge(false) = %q, %q", Judge(true), Judge(false))
	}
}
