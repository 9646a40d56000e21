//go:build !linux

package eddy_test

import "os/exec"

// setNodeDeathSignal does nothing where the kernel has no parent death
// signal: the tests stop their node processes themselves.
func setNodeDeathSignal(*exec.Cmd) {}
