//go:build !race

package main

// faultRace: see faultrace_test.go.
const faultRace = false
