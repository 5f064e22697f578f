package session

import "time"

// AcctKind is the Acct-Status-Type of an accounting packet that carries
// counters for one device.
type AcctKind uint8

// Accounting packet kinds (Accounting-On/Off close a whole NAS instead; see
// the store's CloseNAS).
const (
	AcctStart AcctKind = iota + 1
	AcctInterim
	AcctStop
)

func (k AcctKind) String() string {
	switch k {
	case AcctStart:
		return "start"
	case AcctInterim:
		return "interim"
	case AcctStop:
		return "stop"
	}
	return "unknown"
}

// AcctEvent is one accounting packet for one device, as the store applies
// it. Counters are the NAS's cumulative values for the accounting session:
// InputOctets and OutputOctets are 64-bit (Gigawords << 32 | Octets).
type AcctEvent struct {
	Kind AcctKind
	// NAS identifies the NAS that counts this session: its configured name,
	// or "name@address" when the NAS entry is a network (several access
	// points share the entry and may hand out the same Acct-Session-Id).
	// With SessionID it keys the accounting record: Acct-Session-Id alone is
	// not unique across NAS.
	NAS       string
	SessionID string // Acct-Session-Id
	MAC       MAC
	// SessionTime is Acct-Session-Time in seconds.
	SessionTime  uint64
	InputOctets  uint64 // client upload
	OutputOctets uint64 // client download
	// EventTime is when the NAS produced the packet: Event-Timestamp, or
	// arrival minus Acct-Delay-Time. A first use sets StartedAt from it.
	EventTime time.Time
	// Sent is when the packet left the NAS on the server's clock: arrival
	// minus Acct-Delay-Time. It tells NAS sessions apart (a NAS's own clock
	// may step); zero means EventTime, or Now when EventTime is the NAS's.
	Sent time.Time
	// NASClock is true when EventTime is the NAS's own Event-Timestamp. Only
	// then can a Start prove it is newer than a record with the same
	// Acct-Session-Id (a NAS reusing IDs after a reboot) rather than a
	// delayed duplicate, which must add nothing.
	NASClock bool
	// Now is the server's clock at arrival; availability and expiry are
	// judged at Now.
	Now time.Time
	// Class is the Class attribute the NAS echoed from our Access-Accept
	// ("" when it echoed none of ours). Each Access-Accept carries a unique
	// one, so two packets with different Classes belong to different
	// authorizations, whatever their Acct-Session-Id.
	Class string
	// Gigawords is true when the packet carried Acct-Input-Gigawords or
	// Acct-Output-Gigawords: the NAS counts in 64 bits.
	Gigawords bool
	// Policy is how this NAS's counters are read.
	Policy AcctPolicy
	// NASAttrs are kept on the record so that a Disconnect/CoA sent later
	// (by the scheduler, the admin API) can identify the session to the NAS.
	NASAttrs NASAttrs
}

// AcctPolicy is how a NAS's accounting is read; see docs/ARCHITECTURE.md,
// "Accounting records and their identity".
type AcctPolicy struct {
	// RetransmitWindow is the longest a copy of one packet may arrive after
	// the NAS produced it without the NAS raising Acct-Delay-Time. A packet
	// whose NAS session began more than this after the record's cannot be a
	// copy of that record's packets: it is a new NAS session reusing the
	// Acct-Session-Id. Zero disables the rule.
	RetransmitWindow time.Duration
	// Wrap32, when octets go down while the session time goes up and neither
	// this packet nor any earlier one of the record carried Gigawords,
	// counts the 32-bit counter as wrapped (once) instead of restarted.
	Wrap32 bool
	// Updates is how the NAS reports an open session: AcctUpdatesInterim
	// (Interim-Update, the usual) or a Stop followed by a Start that reuse
	// the Acct-Session-Id (pfSense's "Stop/Start" modes).
	Updates AcctUpdates
}

// AcctUpdates is how a NAS reports a session while it runs.
type AcctUpdates uint8

// Accounting update styles.
const (
	// AcctUpdatesInterim: Interim-Update packets; a Stop ends the session.
	AcctUpdatesInterim AcctUpdates = iota
	// AcctUpdatesStopStart: at each update a Stop then a Start with the same
	// Acct-Session-Id, the Stop's counters cumulative since login
	// (pfSense "Stop/Start").
	AcctUpdatesStopStart
	// AcctUpdatesStopStartReset: the same, with counters counted since the
	// last Start (pfSense "Stop/Start (FreeRADIUS)").
	AcctUpdatesStopStartReset
)

// String is the style's name in the configuration (accounting_updates)
// and in the accounting script.
func (u AcctUpdates) String() string {
	switch u {
	case AcctUpdatesStopStart:
		return "stop_start"
	case AcctUpdatesStopStartReset:
		return "stop_start_reset"
	}
	return "interim"
}

// NASAttrs are the attributes a NAS identifies a session by in RFC 5176
// requests, as the NAS sent them.
type NASAttrs struct {
	UserName         string
	CallingStationID string
	FramedIP         string // dotted quad, "" if absent
	NASIP            string // "" if absent
	NASIdentifier    string
	// SourceIP is where the NAS's accounting came from: where a
	// Disconnect/CoA goes when the NAS entry is a whole network.
	SourceIP string
}

// AcctRecord is one accounting record: a NAS session of a device.
type AcctRecord struct {
	NAS       string
	SessionID string // Acct-Session-Id
	MAC       MAC
	Open      bool
	Feeds     string // the session it charges
	NASAttrs  NASAttrs
	// The last absolute counters of the NAS session.
	SessionTime, InputOctets, OutputOctets uint64
	StartedAt, UpdatedAt                   time.Time
}

// AcctOutcome says what an accounting event did to the record.
type AcctOutcome uint8

// Outcomes of applying an AcctEvent.
const (
	// AcctApplied: counters advanced (possibly by zero) and were stored.
	AcctApplied AcctOutcome = iota + 1
	// AcctStale: a duplicate, replayed or reordered packet older than what
	// the record holds; nothing changed.
	AcctStale
	// AcctAfterStop: the record was already stopped; nothing changed.
	AcctAfterStop
)

func (o AcctOutcome) String() string {
	switch o {
	case AcctApplied:
		return "applied"
	case AcctStale:
		return "stale"
	case AcctAfterStop:
		return "after_stop"
	}
	return "unknown"
}

// Charge is what one event added to one session.
type Charge struct {
	SessionID string
	Secs      uint64
	Bytes     uint64
}

// AcctResult is what the server needs to answer a NAS and to enforce.
type AcctResult struct {
	Outcome AcctOutcome
	// Charges lists the sessions consumption was added to, in spill-over order.
	Charges []Charge
	// Feeds is the session the accounting record is charged to after this
	// event ("" when the device has no session to charge).
	Feeds string
	// Moved is true when spill-over moved the record onto another session.
	Moved bool
	// NewRecord is true when this event began the accounting record (a
	// Start, or the first packet seen of a NAS session).
	NewRecord bool
	// Unbilled is consumption no session could take (the device had none).
	UnbilledSecs, UnbilledBytes uint64
	// Left is true when the device still has an available session after an
	// applied event: Current would find one. False means nothing is left
	// (the NAS session must end).
	Left bool
	// Sessions are all the device's sessions after the event, in creation
	// order, when the server needs the limits of the current one: the event
	// began the record (NewRecord) or moved it (Moved). Otherwise nil: the
	// usual interim reads and returns only what it charges.
	Sessions []Data
}

// RecordRef names one accounting record.
type RecordRef struct {
	NAS       string
	MAC       MAC
	SessionID string // Acct-Session-Id
}

// OpenRef names an open accounting record in its NAS entry's open index,
// with the time of its last accounting update (the index's score): what the
// admin API lists as a NAS's online devices.
type OpenRef struct {
	RecordRef
	UpdatedAt time.Time
}
