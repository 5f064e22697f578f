// Package metric declares the instruments package radiusd counts and times
// with, so that radiusd does not import a metrics library: the Prometheus
// client pulls in net/http, which the packet server has no use for.
// Package radiusd/metric/prom implements them on a Prometheus registry, the
// one main builds.
package metric

import (
	"slices"
	"sync"
)

// Counter counts up.
type Counter interface{ Inc() }

// Gauge goes up and down.
type Gauge interface{ Add(delta float64) }

// Observer records one observation of a distribution (a histogram).
type Observer interface{ Observe(v float64) }

// Family is a family of instruments told apart by label values, given in
// the order of the labels the family was made with.
type Family[T any] interface {
	WithLabelValues(values ...string) T
}

// Registry makes instruments and registers them under their names. It
// returns an error for a name it already holds or one it cannot export.
type Registry interface {
	Counter(name, help string) (Counter, error)
	Gauge(name, help string) (Gauge, error)
	CounterVec(name, help string, labels ...string) (Family[Counter], error)
	GaugeVec(name, help string, labels ...string) (Family[Gauge], error)
	HistogramVec(name, help string, buckets []float64, labels ...string) (Family[Observer], error)
}

// maxLabels is the most labels a Vec remembers its instruments by; a
// family with more is asked every time.
const maxLabels = 4

// vecKey is one set of label values.
type vecKey struct {
	n      int
	values [maxLabels]string
}

// Vec hands out the instruments of a Family, asking the family once per
// set of label values. The hot path calls it for every packet: a call
// through the Family interface would put its label values on the heap
// each time (the compiler cannot see where they go), a Vec keeps them on
// the caller's stack.
type Vec[T any] struct {
	family Family[T]
	mu     sync.RWMutex
	made   map[vecKey]T
}

// NewVec returns a Vec over f.
func NewVec[T any](f Family[T]) *Vec[T] {
	return &Vec[T]{family: f, made: map[vecKey]T{}}
}

// WithLabelValues returns the instrument of the label values.
func (v *Vec[T]) WithLabelValues(values ...string) T {
	if len(values) > maxLabels {
		return v.family.WithLabelValues(slices.Clone(values)...)
	}
	k := vecKey{n: len(values)}
	copy(k.values[:], values)
	v.mu.RLock()
	m, ok := v.made[k]
	v.mu.RUnlock()
	if ok {
		return m
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if m, ok := v.made[k]; ok {
		return m
	}
	m = v.family.WithLabelValues(slices.Clone(values)...)
	v.made[k] = m
	return m
}
