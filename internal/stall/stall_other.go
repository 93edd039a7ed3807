//go:build !linux

package stall

import "errors"

func allowedCPUs() []int { return nil }

func pin(int) error { return errors.New("stall: pinning a thread is not supported here") }

func (m *Meter) startTTYProbe() {}
