package classic

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
)

func TestCRC16(t *testing.T) {
	// The check value of CRC-16/CCITT-FALSE.
	if got := crc16([]byte("123456789")); got != 0x29B1 {
		t.Fatalf("crc16(123456789) = 0x%04X, want 0x29B1", got)
	}
}

func TestLabelIsCutAndSanitised(t *testing.T) {
	b, err := Blocks(driver.Job{CardID: "9F2C4D1A00000001", Function: driver.Guest, Label: "Suite «Sea» 12 and more text"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b[2][:]), "Suite ?Sea? 12 a"; got != want {
		t.Errorf("label block %q, want %q", got, want)
	}
}

// A job the layout cannot carry is ErrInvalidJob, with a message that
// says what is wrong and names no package (the driver adds its own).
func TestInvalidJob(t *testing.T) {
	for _, c := range []struct {
		job  driver.Job
		says string
	}{
		{driver.Job{CardID: "9f2c4d1a00000001", Function: driver.Guest}, `card id "9f2c4d1a00000001" is not 16 upper-case hex digits`},
		{driver.Job{CardID: "9F2C", Function: driver.Guest}, `card id "9F2C"`},
		{driver.Job{CardID: "9F2C4D1A0000000G", Function: driver.Guest}, `card id "9F2C4D1A0000000G"`},
		{driver.Job{CardID: "9F2C4D1A00000001", Function: "owner"}, `function "owner", want "guest" or "staff"`},
		{driver.Job{CardID: "9F2C4D1A00000001", Function: driver.Guest, EndsAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "validity: year 10000"},
	} {
		_, err := Blocks(c.job)
		if !errors.Is(err, ErrInvalidJob) {
			t.Errorf("Blocks(%+v): err = %v, want ErrInvalidJob", c.job, err)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "invalid job: ") || !strings.Contains(msg, c.says) {
			t.Errorf("Blocks(%+v): %q, want \"invalid job: ...%s...\"", c.job, msg, c.says)
		}
	}
}
