package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"layeh.com/radius"
)

// summary is the result of a run; -json prints it as is.
type summary struct {
	Mode        string `json:"mode"`
	Server      string `json:"server"`
	AuthPort    int    `json:"auth_port"`
	AcctPort    int    `json:"acct_port"`
	Devices     int    `json:"devices"`
	Concurrency int    `json:"concurrency"`
	Sockets     int    `json:"sockets"`

	ElapsedSecs float64 `json:"elapsed_secs"`
	// Sent counts requests, not datagrams: Retransmits are extra datagrams.
	Sent     uint64 `json:"sent"`
	Answered uint64 `json:"answered"`
	// Timeouts counts every timeout, retried or not; Lost counts requests
	// abandoned after the last retry.
	Timeouts    uint64 `json:"timeouts"`
	Retransmits uint64 `json:"retransmits"`
	Lost        uint64 `json:"lost"`
	// Bad responses failed verification (by reason) and were discarded.
	Bad        uint64            `json:"bad"`
	BadReasons map[string]uint64 `json:"bad_reasons"`
	// Late answered an earlier, retransmitted or abandoned request;
	// Unmatched answered nothing this run sent.
	Late       uint64            `json:"late"`
	Unmatched  uint64            `json:"unmatched"`
	SendErrors uint64            `json:"send_errors"`
	ReadErrors uint64            `json:"read_errors"`
	Codes      map[string]uint64 `json:"codes"`
	// RepliesWithoutMA counts Access-* and Status-Server replies that
	// carried no Message-Authenticator (servers before the BlastRADIUS fixes).
	RepliesWithoutMA uint64 `json:"replies_without_message_authenticator"`

	ReqPerSec float64     `json:"req_per_sec"` // answered / elapsed
	LatencyUS latencyJSON `json:"latency_us"`

	Totals         totals   `json:"totals"`
	CreateSessions *created `json:"create_sessions,omitempty"`
}

type latencyJSON struct {
	P50  uint64  `json:"p50"`
	P90  uint64  `json:"p90"`
	P99  uint64  `json:"p99"`
	P999 uint64  `json:"p99_9"`
	Max  uint64  `json:"max"`
	Mean float64 `json:"mean"`
}

func summarize(c config, st *stats, elapsed time.Duration, t totals, cr *created) summary {
	s := summary{
		Mode: c.mode.String(), Server: c.server, AuthPort: c.authPort, AcctPort: c.acctPort,
		Devices: c.devices, Concurrency: c.concurrency, Sockets: c.sockets,
		ElapsedSecs: elapsed.Seconds(),
		Sent:        st.sent, Answered: st.answered, Timeouts: st.timeouts, Retransmits: st.retransmits, Lost: st.lost,
		BadReasons: map[string]uint64{}, Late: st.late, Unmatched: st.unmatched,
		SendErrors: st.sendErrors, ReadErrors: st.readErrors,
		Codes: map[string]uint64{}, RepliesWithoutMA: st.noMA,
		LatencyUS: latencyJSON{
			P50: st.hist.quantile(0.50), P90: st.hist.quantile(0.90), P99: st.hist.quantile(0.99),
			P999: st.hist.quantile(0.999), Max: st.hist.max, Mean: st.hist.mean(),
		},
		Totals: t, CreateSessions: cr,
	}
	for k, v := range st.bad {
		if v > 0 {
			s.BadReasons[k] = v
			s.Bad += v
		}
	}
	for code, n := range st.codes {
		if n > 0 {
			s.Codes[radius.Code(code).String()] = n
		}
	}
	if elapsed > 0 {
		s.ReqPerSec = float64(st.answered) / elapsed.Seconds()
	}
	return s
}

func (s summary) writeJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(s)
}

func (s summary) writeText(w io.Writer) error {
	ms := func(us uint64) string { return fmt.Sprintf("%.3f ms", float64(us)/1000) }
	var b strings.Builder
	fmt.Fprintf(&b, "hsload %s: server %s auth %d acct %d, %d devices, concurrency %d on %d sockets\n",
		s.Mode, s.Server, s.AuthPort, s.AcctPort, s.Devices, s.Concurrency, s.Sockets)
	if s.CreateSessions != nil {
		fmt.Fprintf(&b, "  sessions   %d %s sessions created in %.3f s\n", s.CreateSessions.Sessions, s.CreateSessions.Type, s.CreateSessions.Secs)
	}
	fmt.Fprintf(&b, "  elapsed    %.3f s\n", s.ElapsedSecs)
	fmt.Fprintf(&b, "  requests   %d sent, %d answered, %d timeouts (%d retransmits, %d lost), %d bad, %d late, %d unmatched\n",
		s.Sent, s.Answered, s.Timeouts, s.Retransmits, s.Lost, s.Bad, s.Late, s.Unmatched)
	if s.Bad > 0 {
		fmt.Fprintf(&b, "  bad        %s\n", joinCounts(s.BadReasons))
	}
	if s.SendErrors+s.ReadErrors > 0 {
		fmt.Fprintf(&b, "  errors     %d send, %d read\n", s.SendErrors, s.ReadErrors)
	}
	fmt.Fprintf(&b, "  codes      %s\n", joinCounts(s.Codes))
	if s.RepliesWithoutMA > 0 {
		fmt.Fprintf(&b, "  note       %d Access/Status replies without Message-Authenticator\n", s.RepliesWithoutMA)
	}
	fmt.Fprintf(&b, "  rate       %.0f req/s answered\n", s.ReqPerSec)
	l := s.LatencyUS
	fmt.Fprintf(&b, "  latency    p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max))
	t := s.Totals
	fmt.Fprintf(&b, "  totals     %d accounting sessions, %d s, %d octets in, %d octets out (acknowledged)\n",
		t.Sessions, t.TimeSecs, t.InputOctets, t.OutputOctets)
	_, err := io.WriteString(w, b.String())
	return err
}

// joinCounts prints a map as "name n, name n" in name order.
func joinCounts(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
