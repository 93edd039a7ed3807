//go:build !linux

package pgtest

import "syscall"

// deathSignal does nothing where the kernel cannot signal a child when
// its parent dies: a killed test binary leaves its server running until
// the server finds its data directory gone.
func deathSignal(*syscall.SysProcAttr) {}
