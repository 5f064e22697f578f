package main

import (
	"math"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<22; v++ {
		i := bucket(v)
		if i < prev || i > prev+1 {
			t.Fatalf("bucket(%d) = %d after %d: buckets must be contiguous", v, i, prev)
		}
		prev = i
		if hi := bucketHigh(i); hi < v {
			t.Fatalf("bucketHigh(bucket(%d)) = %d, below the value", v, hi)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Fatalf("bucketHigh(%d) = %d, but %d is in the next bucket", i-1, bucketHigh(i-1), v)
		}
	}
	// Relative width: below 1/128 everywhere.
	for _, v := range []uint64{300, 1000, 123_456, 9_999_999, 1 << 38} {
		i := bucket(v)
		lo := bucketHigh(i-1) + 1
		if w := float64(bucketHigh(i)-lo+1) / float64(lo); w > 1.0/128 {
			t.Errorf("bucket of %d: width %.4f of its lower bound", v, w)
		}
	}
	if i := bucket(math.MaxUint64); i != histBuckets-1 {
		t.Errorf("bucket(max) = %d, want the last", i)
	}
}

func TestQuantiles(t *testing.T) {
	us := func(v uint64) time.Duration { return time.Duration(v) * time.Microsecond }
	t.Run("exact below 256us", func(t *testing.T) {
		var h histogram
		for v := uint64(1); v <= 200; v++ {
			h.record(us(v))
		}
		for _, tc := range []struct {
			q    float64
			want uint64
		}{{0.5, 100}, {0.9, 180}, {0.99, 198}, {0.999, 200}, {1, 200}, {0, 1}} {
			if got := h.quantile(tc.q); got != tc.want {
				t.Errorf("q%v: got %d, want %d", tc.q, got, tc.want)
			}
		}
		if h.mean() != 100.5 {
			t.Errorf("mean %v", h.mean())
		}
	})
	t.Run("uniform to 1s within 1/128", func(t *testing.T) {
		var h histogram
		for v := uint64(1); v <= 1_000_000; v++ {
			h.record(us(v))
		}
		for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
			want := q * 1_000_000
			got := float64(h.quantile(q))
			if got < want || got > want*(1+1.0/128) {
				t.Errorf("q%v: got %v, want %v within +1/128", q, got, want)
			}
		}
		if h.quantile(1) != 1_000_000 || h.max != 1_000_000 || h.min != 1 {
			t.Errorf("max %d min %d q1 %d", h.max, h.min, h.quantile(1))
		}
	})
	t.Run("tail", func(t *testing.T) {
		// 999 fast answers and one slow: p99.9 is still fast, max is the slow one.
		var h histogram
		for range 999 {
			h.record(500 * time.Microsecond)
		}
		h.record(2 * time.Second)
		if got := h.quantile(0.999); got < 500 || got > 504 {
			t.Errorf("p99.9: got %d", got)
		}
		if got := h.quantile(0.9995); got != 2_000_000 {
			t.Errorf("p99.95: got %d, want the slow one", got)
		}
	})
	t.Run("merge and empty", func(t *testing.T) {
		var a, b, empty histogram
		if empty.quantile(0.5) != 0 || empty.mean() != 0 {
			t.Error("empty histogram not zero")
		}
		a.record(us(10))
		b.record(us(30))
		b.record(us(20))
		a.merge(&b)
		a.merge(&empty)
		if a.n != 3 || a.min != 10 || a.max != 30 || a.quantile(0.5) != 20 {
			t.Errorf("merged: n %d min %d max %d p50 %d", a.n, a.min, a.max, a.quantile(0.5))
		}
	})
}
