package eddy_test

import (
	"os/exec"
	"syscall"
)

// setNodeDeathSignal has the kernel kill a node process when the test
// binary dies without stopping it (past its timeout, say).
func setNodeDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
