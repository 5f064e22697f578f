package metric_test

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hotspot-radius/hsradius/radiusd/metric"
)

// counter is a Counter that remembers its label values.
type counter struct {
	values []string
	n      atomic.Int64
}

func (c *counter) Inc() { c.n.Add(1) }

// family makes counters and counts how often it was asked.
type family struct {
	mu    sync.Mutex
	asked int
}

func (f *family) WithLabelValues(values ...string) metric.Counter {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked++
	return &counter{values: values}
}

func TestVec(t *testing.T) {
	f := &family{}
	v := metric.NewVec[metric.Counter](f)
	a := v.WithLabelValues("auth", "Access-Request", "accepted")
	if got := v.WithLabelValues("auth", "Access-Request", "accepted"); got != a {
		t.Error("the same label values gave another counter")
	}
	for _, values := range [][]string{
		{"acct", "Access-Request", "accepted"},
		{"auth", "Access-Request", "rejected"},
		{"auth", "Access-Request"},
		{"auth", "Access-Request", "accepted", ""},
	} {
		c := v.WithLabelValues(values...)
		if c == a {
			t.Errorf("%q gave the counter of %q", values, a.(*counter).values)
		}
		if got := c.(*counter).values; !slices.Equal(got, values) {
			t.Errorf("family asked for %q, want %q", got, values)
		}
	}
	if f.asked != 5 {
		t.Errorf("family asked %d times, want 5 (once per set of values)", f.asked)
	}
	// More labels than a Vec keys by: asked every time, still right.
	long := []string{"a", "b", "c", "d", "e"}
	if got := v.WithLabelValues(long...).(*counter).values; !slices.Equal(got, long) {
		t.Errorf("long: family asked for %q", got)
	}
}

// TestVecValuesNotKept: the family may keep the slice it gets; the caller's
// array must not be it (the hot path reuses nothing, but the slice given
// to WithLabelValues may be the caller's own).
func TestVecValuesNotKept(t *testing.T) {
	v := metric.NewVec[metric.Counter](&family{})
	values := []string{"x", "y"}
	c := v.WithLabelValues(values...)
	values[0] = "changed"
	if got := c.(*counter).values; got[0] != "x" {
		t.Errorf("the family's values changed with the caller's: %q", got)
	}
}

func TestVecConcurrent(t *testing.T) {
	f := &family{}
	v := metric.NewVec[metric.Counter](f)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				v.WithLabelValues("l", string(rune('a'+(i+j)%4))).Inc()
			}
		})
	}
	wg.Wait()
	if f.asked != 4 {
		t.Errorf("family asked %d times, want 4", f.asked)
	}
	total := int64(0)
	for _, s := range []string{"a", "b", "c", "d"} {
		total += v.WithLabelValues("l", s).(*counter).n.Load()
	}
	if total != 800 {
		t.Errorf("%d increments counted, want 800", total)
	}
}

// TestVecNoAllocation: once made, an instrument is handed out without an
// allocation (every packet takes this path).
func TestVecNoAllocation(t *testing.T) {
	v := metric.NewVec[metric.Counter](&family{})
	listener, code, outcome := "auth", "Access-Request", "accepted"
	v.WithLabelValues(listener, code, outcome)
	if n := testing.AllocsPerRun(100, func() { v.WithLabelValues(listener, code, outcome).Inc() }); n != 0 {
		t.Errorf("%v allocations per call, want 0", n)
	}
}
