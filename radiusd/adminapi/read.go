package adminapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/hotspot-radius/hsradius/session"
)

// The read-only endpoints the dashboard polls (radiusd/dashboard): the
// overview, the device list and the NAS list. They are computed from what
// already exists (the metrics registry, the NAS table, the Redis indexes
// README's schema lists); nothing is added to the packet path for them.

// Directory is what the read-only endpoints need from the store.
// *redisstore.Store satisfies it.
type Directory interface {
	// Devices returns, in MAC order, up to limit devices that have
	// sessions whose MAC's 12 hex digits contain hex; more reports that
	// there may be others.
	Devices(ctx context.Context, hex string, limit int) (macs []session.MAC, more bool, err error)
	// NASOpen returns a NAS entry's open records, most recently updated
	// first (at most limit), and how many it has.
	NASOpen(ctx context.Context, name string, limit int) ([]session.OpenRef, int64, error)
	// OpenRecords returns a device's open accounting records.
	OpenRecords(ctx context.Context, mac session.MAC) ([]session.AcctRecord, error)
	// DeviceRecords returns a device's records still kept, open and
	// stopped, newest first (a bounded scan: slow on a large keyspace).
	DeviceRecords(ctx context.Context, mac session.MAC) ([]session.AcctRecord, bool, error)
}

// NASEntry is one entry of the NAS table as configured, for GET /v1/nas.
type NASEntry struct {
	Name     string   `json:"name"`
	Address  string   `json:"address"` // a host or a network, CIDR notation
	Profiles []string `json:"profiles"`
	CoAPort  int      `json:"coa_port"` // 0: no Disconnect/CoA
}

// Bounds of the read-only endpoints.
const (
	defaultDevices  = 50
	maxDevices      = 200
	maxOnlinePerNAS = 2000 // open records read per NAS entry to list who is online
)

// errNoDirectory: the process was built without the store's directory.
var errNoDirectory = errors.New("no device directory in this process")

// packetTotals are radiusd_packets_total summed for the dashboard: every
// outcome (README "Metrics"), and the sums the overview shows as rates.
type packetTotals struct {
	ByOutcome  map[string]float64 `json:"by_outcome"`
	Accepts    float64            `json:"accepts"`    // Access-Accept sent
	Rejects    float64            `json:"rejects"`    // Access-Reject sent (rejected, bad_password)
	Accounting float64            `json:"accounting"` // Accounting-Request packets, any outcome
	Dropped    float64            `json:"dropped"`    // no reply sent
}

// enforcementTotals are the Disconnect/CoA results and the schedule drops.
type enforcementTotals struct {
	Disconnect      map[string]float64 `json:"disconnect"` // by result
	CoA             map[string]float64 `json:"coa"`
	ScheduleDropped float64            `json:"schedule_dropped"`
}

// redisHealth is the store's readiness as the overview shows it.
type redisHealth struct {
	OK        bool    `json:"ok"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

// nasJSON is a NAS entry with what its open index says.
type nasJSON struct {
	NASEntry
	// OpenSessions counts the entry's open accounting records (its NAS
	// sessions online now).
	OpenSessions int64 `json:"open_sessions"`
	// LastUpdate is the newest accounting update of an open record: the
	// last packet that kept a NAS session open. Absent when none is open.
	// radiusd records no per-NAS packet time or count on the packet path.
	LastUpdate *string `json:"last_update,omitempty"`
}

// overviewJSON is the body of GET /v1/overview.
type overviewJSON struct {
	At              string            `json:"at"`
	DevicesOnline   int               `json:"devices_online"`
	NASSessionsOpen int64             `json:"nas_sessions_open"`
	OnlineMore      bool              `json:"online_more,omitempty"` // more open records than were read
	Packets         packetTotals      `json:"packets"`
	InFlight        float64           `json:"in_flight"`
	Redis           redisHealth       `json:"redis"`
	NAS             []nasJSON         `json:"nas"`
	Enforcement     enforcementTotals `json:"enforcement"`
}

func (a *api) overview(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	out := overviewJSON{At: a.cfg.Now().UTC().Format(time.RFC3339Nano)}
	out.Redis = a.redisHealth(ctx)
	fams, err := a.cfg.Gatherer.Gather()
	if err != nil && len(fams) == 0 {
		a.fail(w, r, err, nil)
		return
	}
	out.Packets, out.InFlight, out.Enforcement = totals(fams)
	if a.cfg.Directory != nil && out.Redis.OK {
		nas, online, more, err := a.nasState(ctx)
		if err != nil {
			a.fail(w, r, err, nil)
			return
		}
		out.NAS, out.OnlineMore = nas, more
		out.DevicesOnline = len(online)
		for _, n := range nas {
			out.NASSessionsOpen += n.OpenSessions
		}
	} else {
		out.NAS = a.nasEntries()
	}
	writeJSON(w, http.StatusOK, out)
}

// redisHealth times the readiness check.
func (a *api) redisHealth(ctx context.Context) redisHealth {
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	start := time.Now()
	err := a.cfg.Ready(rctx)
	h := redisHealth{OK: err == nil, LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		h.Error = err.Error()
	}
	return h
}

func (a *api) nasEntries() []nasJSON {
	out := make([]nasJSON, len(a.cfg.NAS))
	for i, n := range a.cfg.NAS {
		out[i] = nasJSON{NASEntry: n}
	}
	return out
}

// nasState reads every NAS entry's open index: the entries with their
// counts and newest update, and the devices online (by MAC).
func (a *api) nasState(ctx context.Context) ([]nasJSON, map[session.MAC]bool, bool, error) {
	out := a.nasEntries()
	online := map[session.MAC]bool{}
	more := false
	for i := range out {
		refs, total, err := a.cfg.Directory.NASOpen(ctx, out[i].Name, maxOnlinePerNAS)
		if err != nil {
			return nil, nil, false, err
		}
		out[i].OpenSessions = total
		if len(refs) > 0 {
			s := refs[0].UpdatedAt.Format(time.RFC3339)
			out[i].LastUpdate = &s
		}
		if total > int64(len(refs)) {
			more = true
		}
		for _, ref := range refs {
			online[ref.MAC] = true
		}
	}
	return out, online, more, nil
}

// totals sums the registry's radiusd_* families for the dashboard.
func totals(fams []*dto.MetricFamily) (packetTotals, float64, enforcementTotals) {
	p := packetTotals{ByOutcome: map[string]float64{}}
	e := enforcementTotals{Disconnect: map[string]float64{}, CoA: map[string]float64{}}
	var inFlight float64
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetName() {
			case "radiusd_packets_total":
				v := m.GetCounter().GetValue()
				o := labels["outcome"]
				p.ByOutcome[o] += v
				switch o {
				case "accepted":
					p.Accepts += v
				case "rejected", "bad_password":
					p.Rejects += v
				case "duplicate", "unknown_nas", "malformed", "unsupported_code", "bad_authenticator",
					"bad_message_authenticator", "missing_message_authenticator", "overload", "store_error":
					p.Dropped += v
				}
				if labels["code"] == "Accounting-Request" {
					p.Accounting += v
				}
			case "radiusd_in_flight_requests":
				inFlight = m.GetGauge().GetValue()
			case "radiusd_dynauth_requests_total":
				switch labels["kind"] {
				case "disconnect":
					e.Disconnect[labels["result"]] += m.GetCounter().GetValue()
				case "coa":
					e.CoA[labels["result"]] += m.GetCounter().GetValue()
				}
			case "radiusd_schedule_dropped_total":
				e.ScheduleDropped += m.GetCounter().GetValue()
			}
		}
	}
	return p, inFlight, e
}

// nasListJSON is the body of GET /v1/nas.
type nasListJSON struct {
	NAS []nasJSON `json:"nas"`
	// Packets are server-wide: radiusd_packets_total has no NAS label
	// (one per NAS would be more work per packet).
	Packets packetTotals `json:"packets"`
}

func (a *api) listNAS(w http.ResponseWriter, r *http.Request) {
	if !a.haveDirectory(w) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	nas, _, _, err := a.nasState(ctx)
	if err != nil {
		a.fail(w, r, err, nil)
		return
	}
	out := nasListJSON{NAS: nas}
	if fams, err := a.cfg.Gatherer.Gather(); err == nil || len(fams) > 0 {
		out.Packets, _, _ = totals(fams)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) haveDirectory(w http.ResponseWriter) bool {
	if a.cfg.Directory == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: errNoDirectory.Error()})
		return false
	}
	return true
}

// nasSessionJSON is one open NAS session (accounting record) of a device.
type nasSessionJSON struct {
	Open          bool    `json:"open"` // false: stopped (by the NAS, an Accounting-On, or the reaper)
	NAS           string  `json:"nas"`
	AcctSessionID string  `json:"acct_session_id"`
	SessionID     string  `json:"session_id"` // the session it charges
	FramedIP      string  `json:"framed_ip,omitempty"`
	SessionTime   uint64  `json:"session_time_secs"`
	InputOctets   uint64  `json:"input_octets"`
	OutputOctets  uint64  `json:"output_octets"`
	StartedAt     *string `json:"started_at,omitempty"`
	UpdatedAt     *string `json:"updated_at,omitempty"`
}

func newNASSessions(recs []session.AcctRecord) []nasSessionJSON {
	out := make([]nasSessionJSON, 0, len(recs))
	when := func(t time.Time) *string {
		if t.IsZero() {
			return nil
		}
		s := t.UTC().Format(time.RFC3339)
		return &s
	}
	for _, r := range recs {
		out = append(out, nasSessionJSON{
			Open: r.Open, NAS: r.NAS, AcctSessionID: r.SessionID, SessionID: r.Feeds, FramedIP: r.NASAttrs.FramedIP,
			SessionTime: r.SessionTime, InputOctets: r.InputOctets, OutputOctets: r.OutputOctets,
			StartedAt: when(r.StartedAt), UpdatedAt: when(r.UpdatedAt),
		})
	}
	slices.SortFunc(out, func(x, y nasSessionJSON) int { return strings.Compare(x.NAS+x.AcctSessionID, y.NAS+y.AcctSessionID) })
	return out
}

// deviceJSON is one row of GET /v1/devices.
type deviceJSON struct {
	MAC         string           `json:"mac"`
	Online      bool             `json:"online"` // has an open NAS session
	NASSessions []nasSessionJSON `json:"nas_sessions"`
	Sessions    int              `json:"sessions"`
	Current     *sessionJSON     `json:"current"` // null: none available (Reason says why)
	Reason      string           `json:"reason,omitempty"`
}

// devicesJSON is the body of GET /v1/devices.
type devicesJSON struct {
	Devices []deviceJSON `json:"devices"`
	More    bool         `json:"more"` // more devices match: narrow the search
}

// queryBool reads the query parameter name as true|1 or false|0 (absent:
// false); ok false means it answered 400 already.
func queryBool(w http.ResponseWriter, r *http.Request, name string) (v, ok bool) {
	switch r.URL.Query().Get(name) {
	case "", "false", "0":
		return false, true
	case "true", "1":
		return true, true
	}
	writeJSON(w, http.StatusBadRequest, errorBody{Error: "want true or false", Field: name})
	return false, false
}

// listDevices answers GET /v1/devices?q=<MAC fragment>&online=true&limit=n.
func (a *api) listDevices(w http.ResponseWriter, r *http.Request) {
	if !a.haveDirectory(w) {
		return
	}
	q := r.URL.Query()
	hex, err := macFragment(q.Get("q"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error(), Field: "q"})
		return
	}
	limit := defaultDevices
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxDevices {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "want a whole number from 1 to " + strconv.Itoa(maxDevices), Field: "limit"})
			return
		}
		limit = n
	}
	onlineOnly, ok := queryBool(w, r, "online")
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	var (
		macs []session.MAC
		more bool
	)
	if onlineOnly {
		_, online, m, err := a.nasState(ctx)
		if err != nil {
			a.fail(w, r, err, nil)
			return
		}
		for mac := range online {
			if strings.Contains(mac.Hex(), hex) {
				macs = append(macs, mac)
			}
		}
		slices.Sort(macs)
		more = m || len(macs) > limit
		macs = macs[:min(len(macs), limit)]
	} else if macs, more, err = a.cfg.Directory.Devices(ctx, hex, limit); err != nil {
		a.fail(w, r, err, nil)
		return
	}
	out := devicesJSON{Devices: make([]deviceJSON, 0, len(macs)), More: more}
	now := a.cfg.Now()
	for _, mac := range macs {
		recs, err := a.cfg.Directory.OpenRecords(ctx, mac)
		if err != nil {
			a.fail(w, r, err, nil)
			return
		}
		all, err := a.cfg.Sessions.Sessions(ctx, mac.String())
		if err != nil && !errors.Is(err, session.ErrNoSession) && !errors.Is(err, session.ErrNotFound) {
			a.fail(w, r, err, nil)
			return
		}
		d := deviceJSON{MAC: mac.String(), Online: len(recs) > 0, NASSessions: newNASSessions(recs), Sessions: len(all)}
		data := make([]session.Data, len(all))
		for i, s := range all {
			data[i] = s.Data()
		}
		if cur, err := session.Current(data, now); err == nil {
			v := newSessionJSON(cur, now)
			d.Current = &v
		} else {
			d.Reason = session.StatusKey(err)
		}
		out.Devices = append(out.Devices, d)
	}
	writeJSON(w, http.StatusOK, out)
}

// deviceNASJSON is the body of GET /v1/devices/{mac}/nas-sessions.
type deviceNASJSON struct {
	MAC         string           `json:"mac"`
	NASSessions []nasSessionJSON `json:"nas_sessions"` // open now
	// Recent (with ?recent=true) are the device's records still kept,
	// open and stopped, newest first; RecentMore says there may be others.
	Recent     []nasSessionJSON `json:"recent,omitzero"`
	RecentMore bool             `json:"recent_more,omitempty"`
}

// deviceNASSessions answers the device's open NAS sessions, and with
// ?recent=true also the stopped ones still kept.
func (a *api) deviceNASSessions(w http.ResponseWriter, r *http.Request) {
	mac, ok := a.pathMAC(w, r)
	if !ok || !a.haveDirectory(w) {
		return
	}
	recent, ok := queryBool(w, r, "recent")
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	recs, err := a.cfg.Directory.OpenRecords(ctx, mac)
	if err != nil {
		a.fail(w, r, err, nil)
		return
	}
	out := deviceNASJSON{MAC: mac.String(), NASSessions: newNASSessions(recs)}
	if recent {
		all, more, err := a.cfg.Directory.DeviceRecords(ctx, mac)
		if err != nil {
			a.fail(w, r, err, nil)
			return
		}
		out.Recent, out.RecentMore = newNASSessions(all), more
		slices.SortStableFunc(out.Recent, func(x, y nasSessionJSON) int { return strings.Compare(deref(y.UpdatedAt), deref(x.UpdatedAt)) })
		if out.Recent == nil {
			out.Recent = []nasSessionJSON{}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// macFragment turns a search ("AA-BB", "aa:bb:c", "aabb") into the hex
// digits it names.
func macFragment(q string) (string, error) {
	var b strings.Builder
	for _, c := range strings.ToLower(strings.TrimSpace(q)) {
		switch {
		case c == ':' || c == '-' || c == '.' || c == ' ':
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			b.WriteRune(c)
		default:
			return "", errors.New("search by MAC address: hex digits, with or without : - or . (e.g. aa:bb:cc or ccddeeff)")
		}
	}
	if b.Len() > 12 {
		return "", errors.New("a MAC address has 12 hex digits")
	}
	return b.String(), nil
}
