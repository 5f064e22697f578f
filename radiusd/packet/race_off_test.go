//go:build !race

package packet

// raceEnabled: the race detector is off in this build (see race_on_test.go).
const raceEnabled = false
