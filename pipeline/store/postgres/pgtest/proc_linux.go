package pgtest

import "syscall"

// deathSignal has the kernel send the server SIGINT, PostgreSQL's fast
// shutdown, when the thread that started it dies: the server then does
// not outlive a test binary that is killed. Start keeps that thread
// alive, locked to the goroutine waiting for the server, until the
// server exits.
func deathSignal(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGINT }
