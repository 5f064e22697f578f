//go:build !race

package radiusd

// raceEnabled: the race detector is off in this build (see race_on_test.go).
const raceEnabled = false
