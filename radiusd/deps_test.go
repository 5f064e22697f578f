package radiusd

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoNetHTTP: the packet server does not depend on net/http. The admin
// API lives in radiusd/adminapi and the metrics go through radiusd/metric
// (the Prometheus client imports net/http), so the packet path and the web
// API change independently.
func TestNoNetHTTP(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the imports with")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "net/http" || strings.HasPrefix(pkg, "net/http/") || strings.HasPrefix(pkg, "github.com/prometheus/") {
			t.Errorf("package radiusd depends on %s", pkg)
		}
	}
}
