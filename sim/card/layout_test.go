package card

import "testing"

// TestOracleCRC16 checks the card layout's CRC against the published
// values of CRC-16/CCITT-FALSE (pn532.md, "Worked credential sector").
func TestOracleCRC16(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint16
	}{
		{"123456789", 0x29B1}, // the catalogued check value
		{"A", 0xB915},
		{"", 0xFFFF}, // nothing: the initial value
	} {
		if got := crc16([]byte(c.in)); got != c.want {
			t.Errorf("crc16(%q) = %04X, want %04X", c.in, got, c.want)
		}
	}
	if got := crc16([]byte("1234"), []byte("56789")); got != 0x29B1 {
		t.Errorf("crc16(1234, 56789) = %04X, want 29B1", got)
	}
}
