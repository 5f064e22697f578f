package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// README.md documents this command; these tests keep the parts that
// follow from the code true.

func readREADME(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestREADMETestCommand: CI runs the line .ci/run's awk program finds after
// the <!-- test-command --> marker; it must be the test command, and the
// sentence that explains it must stand right before it, not in the code
// block of the command before.
func TestREADMETestCommand(t *testing.T) {
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`awk '([^']*)' README\.md`).FindSubmatch(ci)
	if m == nil {
		t.Fatal(".ci/run has no awk program reading README.md")
	}
	awk, err := exec.LookPath("awk")
	if err != nil {
		t.Skip("awk not found")
	}
	cmd := exec.Command(awk, string(m[1]), "README.md")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("awk: %v", err)
	}
	if got, want := strings.TrimSpace(string(out)), "go test -race -count=1 -timeout 20m ./..."; got != want {
		t.Errorf(".ci/run would run %q, want %q", got, want)
	}

	lines := strings.Split(readREADME(t), "\n")
	for i, l := range lines {
		if !strings.Contains(l, "<!-- test-command -->") {
			continue
		}
		j := i - 1
		for j >= 0 && strings.TrimSpace(lines[j]) == "" {
			j--
		}
		if j < 0 || strings.HasPrefix(lines[j], "```") || strings.HasPrefix(lines[j], "#") {
			t.Errorf("the test command's explanation is not right before it: line %d is %q", j+1, lines[max(j, 0)])
		}
		return
	}
	t.Error("README.md has no <!-- test-command --> marker")
}

// TestREADMEDemoAddresses: the demo binds 127.0.0.1, and README.md and
// radiusd -h say so (not ":1812", every address).
func TestREADMEDemoAddresses(t *testing.T) {
	var row string
	for _, l := range strings.Split(readREADME(t), "\n") {
		if strings.Contains(l, envDemoRedisAddr) && strings.HasPrefix(l, "|") {
			row = l
		}
	}
	if row == "" {
		t.Fatalf("README.md has no configuration row for %s", envDemoRedisAddr)
	}
	for _, a := range []string{demoRedisAddr, demoAuthAddr, demoAcctAddr, demoAdminAddr} {
		if !strings.Contains(row, "`"+a+"`") {
			t.Errorf("README.md's demo row lacks `%s`: %s", a, row)
		}
		if !strings.Contains(usageEnv, a) {
			t.Errorf("radiusd -h lacks the demo address %s:\n%s", a, usageEnv)
		}
	}
	for _, wrong := range []string{"`:1812`", "`:1813`", "`:9812`"} {
		if strings.Contains(row, wrong) {
			t.Errorf("README.md's demo row says %s (every address): %s", wrong, row)
		}
	}
}

// TestREADMERecordFields: every field the accounting scripts write into a
// record is listed in README.md's "Accounting record fields".
func TestREADMERecordFields(t *testing.T) {
	readme := readREADME(t)
	start := strings.Index(readme, "Accounting record fields:")
	if start < 0 {
		t.Fatal(`README.md has no "Accounting record fields:"`)
	}
	para := readme[start:]
	if end := strings.Index(para, "\n\n"); end >= 0 {
		para = para[:end]
	}
	fields := map[string]bool{}
	for _, f := range []struct {
		file string
		re   *regexp.Regexp
	}{
		{"account.lua", regexp.MustCompile(`put\(f, '([a-z_]+)'`)},                  // put(f, 'mac', ...)
		{"account.lua", regexp.MustCompile(`'(?:HINCRBY|HSET)', rec, '([a-z_]+)'`)}, // redis.call('HINCRBY', rec, 'charged_secs', ...)
		{"account.lua", regexp.MustCompile(`'([a-z_]+)', (?:same\(|ARGV\[)`)},       // {'in_octets', same(...), 'updated_at', ARGV[3]}
		{"account.lua", regexp.MustCompile(`\{'([a-z_]+)', [a-z]`)},                 // {'charged_secs', dt - ...}
		{"close.lua", regexp.MustCompile(`'([a-z_]+)', ARGV\[`)},                    // 'stopped_at', ARGV[1]
	} {
		b, err := os.ReadFile("../../redisstore/lua/" + f.file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range f.re.FindAllSubmatch(b, -1) {
			fields[string(m[1])] = true
		}
	}
	b, err := os.ReadFile("../../redisstore/lua/account.lua")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`attr_names = \{([^}]*)\}`).FindSubmatch(b); m != nil {
		for _, q := range regexp.MustCompile(`'([a-z_]+)'`).FindAllSubmatch(m[1], -1) {
			fields[string(q[1])] = true
		}
	}
	for _, want := range []string{"state", "in_octets", "updated_at", "charged_bytes", "user_name", "nas_src", "closed_by", "opt", "class"} {
		if !fields[want] {
			t.Fatalf("the scripts' fields %v lack %s: the patterns above no longer match them", fields, want)
		}
	}
	for f := range fields {
		if !strings.Contains(para, "`"+f+"`") {
			t.Errorf("README.md's accounting record fields lack `%s`", f)
		}
	}
}
