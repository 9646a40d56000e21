package main

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill the node when the demo dies
// without stopping it (killed itself, or a test binary past its timeout), so
// that no node is left running on its own.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
