package server

import "testing"

// TestDefaultConnectionCap checks the documented default of
// Config.MaxConns: the file limit less 128 and 3 per encoder, at most
// 4096 and at least 16.
func TestDefaultConnectionCap(t *testing.T) {
	for _, tc := range []struct {
		limit    uint64
		encoders int
		want     int
	}{
		{1024, 0, 896},
		{1024, 5, 881},
		{1 << 20, 5, 4096},
		{^uint64(0), 0, 4096}, // RLIM_INFINITY
		{100, 0, 16},
		{150, 2, 16},
	} {
		if got := capConns(tc.limit, tc.encoders); got != tc.want {
			t.Errorf("cap for a file limit of %d and %d encoders = %d, want %d", tc.limit, tc.encoders, got, tc.want)
		}
	}
}
