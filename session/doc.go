// Package session owns the hotspot client-session model: what a device bought
// (time, data or time-or-data, an optional expiry counted from first use, its
// speeds), what it has consumed, and the rules built on that: what remains,
// whether a session is available, which of a device's sessions is current,
// and the limits a NAS must be told.
//
// ClientSession and SessionsMgr implement the hotspot SDK's ClientSession and
// SessionsMgr API with Go idioms: a context on every call that does I/O and
// returned errors. Storage is the Store interface declared here; the Redis
// implementation lives in package redisstore.
//
// # Units
//
// Time is counted in whole seconds. Data is counted in bytes and presented in
// megabytes where the SDK API does: 1 MB = 1,000,000 bytes, the SI unit that
// network vendors and data plans use. Storage keeps exact integers; floats
// exist only at the API edge (DataMb, DataConsumption, RemainingData).
//
// # Rules
//
//   - RemainingTime = max(0, TimeSecs − TimeConsumption), RemainingData the
//     same for data: never an unsigned wrap-around.
//   - ExpiresAt = StartedAt + ExpDays × 24h, nil while the session has no
//     expiry or has not started: the expiry clock starts at first use.
//   - A session is available when it has not expired and, for its type, time
//     remains (time), data remains (data) or both remain (time_or_data). A zero
//     allocation of the limiting kind means exhausted, never unlimited.
//   - The current session of a device is its started, available session (the
//     earliest started if several); otherwise its oldest-created available one.
//     Creation order is the sequence number in the ID.
//
// Nothing in this package reads the clock: the time is always a parameter.
package session
