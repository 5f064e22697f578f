// Package session owns the hotspot client-session model: what a device bought
// (time, data or time-or-data, an optional expiry counted from first use, its
// speeds), what it has consumed, and the rules built on that: what remains,
// whether a session is available, which of a device's sessions is current,
// and the limits a NAS must be told.
//
// ClientSession and SessionsMgr follow the hotspot SDK's ClientSession and
// SessionsMgr method by method, with Go idioms: a context on every call that
// does I/O, and returned errors. They are not drop-in replacements: README.md,
// section "Porting from the hotspot SDK", says method by method what is the
// same, what differs and why. Storage is the Store interface declared here;
// the Redis implementation lives in package redisstore.
//
// An operator's change to a session (the admin API's PATCH, hsctl update)
// is an Edit: its rules (which change applies to which session type) live
// there once, for every front end.
//
// # Saving: nothing lost, nothing counted twice
//
// Setters write absolute values; increments (IncTimeCons, IncDataCons,
// IncDataConsBytes) and top-ups (TopUpTime, TopUpData) are added atomically,
// so any number of ClientSessions, in any number of processes, may update one
// session without losing an increment. Of two writes of one field, the last
// one stored wins.
//
// A Save that returns an error may have been stored all the same: the store
// ran it and the reply was lost. So a ClientSession keeps everything no Save
// has confirmed, and calling Save again is the way to retry: as often as
// needed, with more usage counted in between; once a Save succeeds, every
// increment and top-up made before it is stored exactly once. It works like
// a NAS's cumulative counters: each ClientSession is a writer with a random
// ID, and every Save sends the writer's running totals T (all it has counted)
// with the part A that an earlier Save confirmed. Per writer and counter the
// store keeps R, the highest total it has applied; a Save adds
// T − max(R, A) when positive and sets R to max(R, T). The store has thus added
// exactly R for the writer, R never exceeds what the writer counted, and a
// successful Save leaves R at least at its T, whatever became of earlier
// attempts, duplicates or reorderings.
//
// The store forgets a writer some time after its last Save that added
// something (redisstore: Options.WriterTTL, a day by default). A Save
// retried later than that, after one whose reply was lost, may count that
// one's increments twice.
//
// Reload drops whatever no Save has confirmed and starts a new writer: the
// increments of a failed Save are then stored or lost, depending on whether
// it ran, and never sent again. To keep them, retry Save rather than Reload.
//
// A ClientSession is safe for concurrent use. Save sends a snapshot and does
// not block the other methods; what changes while it waits for the store
// stays for the next Save.
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
