package main

import (
	"strings"
	"testing"
)

// The events are as cmd/test2json writes them (go doc cmd/test2json).
const run = `{"Action":"start","Package":"example.com/a"}
{"Action":"run","Package":"example.com/a","Test":"TestOK"}
{"Action":"output","Package":"example.com/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"example.com/a","Test":"TestOK","Output":"    a_test.go:9: chatter of a passing test\n"}
{"Action":"pass","Package":"example.com/a","Test":"TestOK","Elapsed":0.01}
{"Action":"run","Package":"example.com/a","Test":"TestNode"}
{"Action":"output","Package":"example.com/a","Test":"TestNode","Output":"=== RUN   TestNode\n"}
{"Action":"output","Package":"example.com/a","Test":"TestNode","Output":"    a_test.go:20: node not found: install Node.js\n"}
{"Action":"output","Package":"example.com/a","Test":"TestNode","Output":"--- SKIP: TestNode (0.00s)\n"}
{"Action":"skip","Package":"example.com/a","Test":"TestNode","Elapsed":0}
{"Action":"pass","Package":"example.com/a","Elapsed":0.5}
{"Action":"start","Package":"example.com/b"}
{"Action":"run","Package":"example.com/b","Test":"TestBroken"}
{"Action":"output","Package":"example.com/b","Test":"TestBroken","Output":"=== RUN   TestBroken\n"}
{"Action":"output","Package":"example.com/b","Test":"TestBroken","Output":"    b_test.go:5: got 1, want 2\n"}
{"Action":"output","Package":"example.com/b","Test":"TestBroken","Output":"--- FAIL: TestBroken (0.00s)\n"}
{"Action":"fail","Package":"example.com/b","Test":"TestBroken","Elapsed":0}
{"Action":"fail","Package":"example.com/b","Elapsed":0.2}
{"Action":"start","Package":"example.com/c"}
{"Action":"start","Package":"example.com/d"}
{"Action":"output","Package":"example.com/d","Output":"?   \texample.com/d\t[no test files]\n"}
{"Action":"skip","Package":"example.com/d","Elapsed":0}
`

func TestSummarize(t *testing.T) {
	var out strings.Builder
	code := summarize(strings.NewReader(run), &out)
	got := out.String()
	if code != 1 {
		t.Errorf("exit status %d, want 1 (a test failed)", code)
	}
	for _, want := range []string{
		"ok  \texample.com/a\t0.500s\n",
		"    b_test.go:5: got 1, want 2\n",
		"FAIL\texample.com/b\t0.200s\n",
		"FAIL\texample.com/c\t(the test binary ended without a result)\n",
		"?   \texample.com/d\t[no test files]\n",
		"skipped: 1\n  example.com/a TestNode: a_test.go:20: node not found: install Node.js\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "chatter of a passing test") {
		t.Errorf("summary shows a passing test's output:\n%s", got)
	}
}

func TestSummarizeGreen(t *testing.T) {
	var out strings.Builder
	in := `{"Action":"start","Package":"example.com/a"}
{"Action":"pass","Package":"example.com/a","Elapsed":0.1}
`
	if code := summarize(strings.NewReader(in), &out); code != 0 {
		t.Errorf("exit status %d, want 0:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "skipped: none\n") {
		t.Errorf("summary lacks the skip count:\n%s", out.String())
	}
}
