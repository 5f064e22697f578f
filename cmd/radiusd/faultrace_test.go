//go:build race

package main

// faultRace: this test binary runs under the race detector, so the fault
// tests build the radiusd they start with it too (a data race in the server
// under faults fails them).
const faultRace = true
