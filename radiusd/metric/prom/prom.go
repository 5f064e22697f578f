// Package prom implements the instruments of package radiusd/metric with
// the Prometheus client, on a registry the caller owns (never the global
// one).
package prom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotspot-radius/hsradius/radiusd/metric"
)

// Registry returns a metric.Registry that registers each instrument on reg.
func Registry(reg prometheus.Registerer) metric.Registry { return registry{reg} }

type registry struct{ reg prometheus.Registerer }

func (r registry) Counter(name, help string) (metric.Counter, error) {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	if err := r.reg.Register(c); err != nil {
		return nil, err
	}
	return c, nil
}

func (r registry) Gauge(name, help string) (metric.Gauge, error) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	if err := r.reg.Register(g); err != nil {
		return nil, err
	}
	return g, nil
}

func (r registry) CounterVec(name, help string, labels ...string) (metric.Family[metric.Counter], error) {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	if err := r.reg.Register(v); err != nil {
		return nil, err
	}
	return counterVec{v}, nil
}

func (r registry) GaugeVec(name, help string, labels ...string) (metric.Family[metric.Gauge], error) {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	if err := r.reg.Register(v); err != nil {
		return nil, err
	}
	return gaugeVec{v}, nil
}

func (r registry) HistogramVec(name, help string, buckets []float64, labels ...string) (metric.Family[metric.Observer], error) {
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	if err := r.reg.Register(v); err != nil {
		return nil, err
	}
	return histogramVec{v}, nil
}

// counterVec and histogramVec return the Prometheus instruments as the
// metric interfaces (Go has no covariant results).
type counterVec struct{ v *prometheus.CounterVec }

func (c counterVec) WithLabelValues(values ...string) metric.Counter {
	return c.v.WithLabelValues(values...)
}

type gaugeVec struct{ v *prometheus.GaugeVec }

func (g gaugeVec) WithLabelValues(values ...string) metric.Gauge {
	return g.v.WithLabelValues(values...)
}

type histogramVec struct{ v *prometheus.HistogramVec }

func (h histogramVec) WithLabelValues(values ...string) metric.Observer {
	return h.v.WithLabelValues(values...)
}
