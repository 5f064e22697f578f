package redisstore

import (
	"strings"

	"github.com/hotspot-radius/hsradius/session"
)

// Key schema. Every key of one device carries the device's hash tag
// {<mac hex>}, so a script touching a device's sessions and accounting
// records stays in one Redis Cluster slot.
//
//	<prefix>{<mac>}:s:<n>           hash   session n of the device
//	<prefix>{<mac>}:sessions        zset   session IDs, scored by n
//	<prefix>{<mac>}:seq             string last n handed out
//	<prefix>{<mac>}:w:<writer>      hash   what one ClientSession's Saves have
//	                                       added (TTL; see Store.SaveSession)
//	<prefix>{<mac>}:acct:<nas>:<id> hash   accounting record (TTL)
//	<prefix>{<mac>}:open            set    the device's open records, "<nas>|<id>"
//	<prefix>nas:{<name>}:open       zset   open records of a NAS entry, scored by
//	                                       last update (Accounting-On, reaper)
//
// <nas> in a record key is the NAS identity: the entry's name, or
// "<name>@<address>" for a network entry (the address is part of the
// accounting identity there).
//
//	<prefix>{sched}:due             zset   open records, scored by when their
//	                                       session ends (enforcement schedule)
type keys struct{ prefix string }

func (k keys) tag(mac session.MAC) string { return k.prefix + "{" + mac.Hex() + "}" }

// device is one device's keys, its tag made once (the per-packet path).
type device string

func (k keys) device(mac session.MAC) device { return device(k.tag(mac)) }

func (d device) sessionBase() string { return string(d) + ":s:" }

func (d device) index() string { return string(d) + ":sessions" }

func (d device) record(nas, acctID string) string { return string(d) + ":acct:" + nas + ":" + acctID }

func (d device) deviceOpen() string { return string(d) + ":open" }

// sessionBase is a session key without its number.
func (k keys) sessionBase(mac session.MAC) string { return k.device(mac).sessionBase() }

func (k keys) session(mac session.MAC, seq string) string { return k.sessionBase(mac) + seq }

func (k keys) index(mac session.MAC) string { return k.device(mac).index() }

func (k keys) seq(mac session.MAC) string { return k.tag(mac) + ":seq" }

func (k keys) writer(mac session.MAC, writer string) string { return k.tag(mac) + ":w:" + writer }

func (k keys) record(mac session.MAC, nas, acctID string) string {
	return k.device(mac).record(nas, acctID)
}

func (k keys) deviceOpen(mac session.MAC) string { return k.device(mac).deviceOpen() }

func (k keys) schedule() string { return k.prefix + "{sched}:due" }

func (k keys) nasOpen(nas string) string { return k.prefix + "nas:{" + nas + "}:open" }

// openMember is a record's member in its NAS's open index:
// "<mac hex>|<Acct-Session-Id>", or "<mac hex>@<address>|<Acct-Session-Id>"
// for a record of one address of a network NAS entry. An address never
// holds '|', so the first '|' ends it whatever the Acct-Session-Id holds.
func openMember(mac session.MAC, src, acctID string) string {
	return openMemberHex(mac.Hex(), src, acctID)
}

func openMemberHex(hex, src, acctID string) string {
	if src != "" {
		return hex + "@" + src + "|" + acctID
	}
	return hex + "|" + acctID
}

func parseOpenMember(m string) (mac session.MAC, src, acctID string, ok bool) {
	head, id, ok := strings.Cut(m, "|")
	if !ok {
		return "", "", "", false
	}
	hex, src, _ := strings.Cut(head, "@")
	mac, err := session.ParseMAC(hex)
	if err != nil {
		return "", "", "", false
	}
	return mac, src, id, true
}

// joinNAS is the NAS identity of a name and a source address ("" for none).
func joinNAS(name, src string) string {
	if src == "" {
		return name
	}
	return name + "@" + src
}
