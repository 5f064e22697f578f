package main

import (
	"math"
	"math/bits"
	"time"
)

// histogram counts latencies in microseconds in log-linear buckets, in the
// manner of HdrHistogram: values below 256 µs exactly, above that 128
// buckets per power of two, so a percentile is within 1/128 (0.8 %) of the
// true value. Recording is a few instructions and no allocation.
type histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	sum      uint64 // µs, for the mean
	min, max uint64 // exact
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	// histMaxExp bounds the range: values up to 2^(histMaxExp+8) µs (over a
	// year); larger ones land in the last bucket.
	histMaxExp  = 33
	histBuckets = (histMaxExp + 2) << histSubBits
)

// bucket returns the index of v: v itself below 2·histSub, else the top
// histSubBits+1 bits of v (leading 1 included) after the exponent.
func bucket(v uint64) int {
	e := bits.Len64(v) - (histSubBits + 1)
	if e <= 0 {
		return int(v)
	}
	i := e<<histSubBits + int(v>>e)
	return min(i, histBuckets-1)
}

// bucketHigh is the largest value that falls in bucket i.
func bucketHigh(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	e := i>>histSubBits - 1
	m := uint64(i - e<<histSubBits)
	return (m+1)<<e - 1
}

func (h *histogram) record(d time.Duration) {
	v := uint64(max(d, 0) / time.Microsecond)
	h.counts[bucket(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.n++
	h.sum += v
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// quantile returns the value at or below which a fraction q of the
// recorded values fall (q in [0, 1]), as the highest value of its bucket,
// never above the largest value recorded. 0 when empty.
func (h *histogram) quantile(q float64) uint64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(max(bucketHigh(i), h.min), h.max)
		}
	}
	return h.max
}

func (h *histogram) mean() float64 {
	if h.n == 0 {
		return 0
	}
	return float64(h.sum) / float64(h.n)
}
