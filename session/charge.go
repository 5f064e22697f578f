package session

import (
	"slices"
	"time"
)

// Usage is consumption to charge to a device's sessions: what one
// accounting packet adds to its record (README.md, section "How accounting
// is counted").
type Usage struct {
	// Feeds is the session the record charged until now: "" when the
	// record is new or charged none. A new record, or one whose session is
	// gone, charges the device's current session first.
	Feeds string
	// NewRecord is true when the packet begins the record: the session it
	// charges first starts its expiry clock at the NAS session's start.
	NewRecord bool
	// Start is true for an Accounting-Start: the session the record
	// charges first starts its expiry clock even when charged nothing.
	Start bool
	// Secs and Bytes are the consumption to charge.
	Secs, Bytes uint64
	// EventTime is when the NAS produced the packet, SessionTime its
	// Acct-Session-Time: the NAS session began SessionTime before.
	EventTime   time.Time
	SessionTime uint64
}

// Billing is what charging a Usage does to a device's sessions.
type Billing struct {
	// Sessions are the device's sessions afterwards, in the order given:
	// consumption added, StartedAt set on first use.
	Sessions []Data
	// Charges lists what each session took, in spill-over order; sessions
	// that took nothing are left out.
	Charges []Charge
	// UnbilledSecs and UnbilledBytes are what no session took: the device
	// had no session to charge.
	UnbilledSecs, UnbilledBytes uint64
	// Feeds is the session the record charges afterwards: the one it
	// charged first while available, else the current one, else (nothing
	// left) the one that took the overage. "" when the device has none.
	Feeds string
	// Moved is true when Feeds is not the session the record charged first
	// (for a new record, the one current when it began): the NAS holds
	// another session's limits.
	Moved bool
	// Left is true when the device still has an available session.
	Left bool
}

// Charge charges u to a device's sessions at now and returns what it did;
// sessions is not modified. The rules:
//
//   - The chain of sessions to charge is the one the record feeds (a new
//     record's, or one whose session is gone: the current one), then the
//     other available sessions in the order they would become current.
//   - Each kind of consumption spills along the chain: a session takes up
//     to what it has left of a kind that limits it (nothing once expired);
//     a kind that does not limit it, and the last session of the chain,
//     take all the rest. Only a device with no session leaves it unbilled.
//   - First use starts a session's expiry clock: for the first session of
//     a new record the NAS session's start, for any other the event's time.
//     The first session of a Start starts even when charged nothing.
//
// redisstore's account.lua applies the same rules atomically in Redis; a
// differential test there holds the two equal.
func (u Usage) Charge(sessions []Data, now time.Time) Billing {
	list := slices.Clone(sessions)
	b := Billing{Sessions: list}

	bound := -1
	if !u.NewRecord && u.Feeds != "" {
		bound = slices.IndexFunc(list, func(d Data) bool { return d.ID == u.Feeds })
	}
	if bound < 0 {
		bound = current(list, now)
	}
	chain := make([]int, 0, len(list))
	if bound >= 0 {
		chain = append(chain, bound)
	}
	for i := range list {
		if i != bound && list[i].Available(now) {
			chain = append(chain, i)
		}
	}
	if len(chain) > 1 {
		slices.SortFunc(chain[1:], func(i, j int) int {
			switch {
			case better(list[i], list[j]):
				return -1
			case better(list[j], list[i]):
				return 1
			}
			return 0
		})
	}

	took := make([]Charge, len(chain))
	b.UnbilledSecs = spill(list, chain, u.Secs, now,
		func(d Data) (uint64, bool) { return d.RemainingTime(), d.Type.LimitsTime() },
		func(k int, n uint64) { list[chain[k]].TimeCons += n; took[k].Secs += n })
	b.UnbilledBytes = spill(list, chain, u.Bytes, now,
		func(d Data) (uint64, bool) { return d.RemainingDataBytes(), d.Type.LimitsData() },
		func(k int, n uint64) { list[chain[k]].DataConsBytes += n; took[k].Bytes += n })

	for k, i := range chain {
		charged := took[k].Secs > 0 || took[k].Bytes > 0
		if (charged || (k == 0 && u.Start)) && !list[i].Started() {
			list[i].StartedAt = u.EventTime.Truncate(time.Second)
			if k == 0 && u.NewRecord {
				list[i].StartedAt = nasSessionStart(u.EventTime, u.SessionTime)
			}
		}
		if charged {
			took[k].SessionID = list[i].ID
			b.Charges = append(b.Charges, took[k])
		}
	}

	feeds := bound
	if bound >= 0 && list[bound].Available(now) {
		b.Left = true
	} else if c := current(list, now); c >= 0 {
		feeds, b.Left = c, true
	} else if len(chain) > 0 {
		feeds = chain[len(chain)-1]
	}
	if feeds >= 0 {
		b.Feeds = list[feeds].ID
	}
	b.Moved = bound >= 0 && feeds != bound
	return b
}

// spill charges delta of one kind along chain (indexes into list) and
// returns what no session took. room returns what a session has left of
// the kind and whether the kind limits it; add charges n to the k-th
// session of the chain.
func spill(list []Data, chain []int, delta uint64, now time.Time, room func(Data) (uint64, bool), add func(k int, n uint64)) uint64 {
	for k, i := range chain {
		if delta == 0 {
			break
		}
		take := delta
		if left, limits := room(list[i]); limits && k < len(chain)-1 {
			if list[i].Expired(now) {
				left = 0
			}
			take = min(take, left)
		}
		if take > 0 {
			add(k, take)
			delta -= take
		}
	}
	return delta
}

// nasSessionStart is when a NAS session began: sessionTime seconds before
// the event, in whole seconds, never before the Unix epoch.
func nasSessionStart(event time.Time, sessionTime uint64) time.Time {
	t := event.Truncate(time.Second)
	if sessionTime > uint64(max(t.Unix(), 0)) {
		return time.Unix(0, 0).In(t.Location())
	}
	return t.Add(-time.Duration(sessionTime) * time.Second)
}
