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

// Each key has one home: an append form, which the per-packet path uses to
// build all of a packet's strings in one allocation (Store.acctCall), and
// the string forms below, made from it.

// appendDevice appends a device's tag, "<prefix>{<mac hex>}".
func appendDevice(b []byte, prefix string, hex []byte) []byte {
	return append(append(append(append(b, prefix...), '{'), hex...), '}')
}

// appendSessionBase, appendIndex, appendRecord and appendDeviceOpen append
// their key's suffix to a device's tag.
func appendSessionBase(b []byte) []byte { return append(b, ":s:"...) }
func appendIndex(b []byte) []byte       { return append(b, ":sessions"...) }
func appendDeviceOpen(b []byte) []byte  { return append(b, ":open"...) }
func appendRecord(b []byte, nas, acctID string) []byte {
	return append(append(append(append(b, ":acct:"...), nas...), ':'), acctID...)
}

func appendNASOpen(b []byte, prefix, nas string) []byte {
	return append(append(append(append(b, prefix...), "nas:{"...), nas...), "}:open"...)
}

func (k keys) tag(mac session.MAC) string {
	var hex [12]byte
	var buf [96]byte
	return string(appendDevice(buf[:0], k.prefix, mac.AppendHex(hex[:0])))
}

// device is one device's keys, its tag made once.
type device string

func (k keys) device(mac session.MAC) device { return device(k.tag(mac)) }

// suffixed returns d's tag followed by what add appends.
func (d device) suffixed(add func([]byte) []byte) string {
	var buf [160]byte
	return string(add(append(buf[:0], d...)))
}

func (d device) sessionBase() string { return d.suffixed(appendSessionBase) }

func (d device) index() string { return d.suffixed(appendIndex) }

func (d device) record(nas, acctID string) string {
	return d.suffixed(func(b []byte) []byte { return appendRecord(b, nas, acctID) })
}

func (d device) deviceOpen() string { return d.suffixed(appendDeviceOpen) }

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

func (k keys) nasOpen(nas string) string {
	var buf [96]byte
	return string(appendNASOpen(buf[:0], k.prefix, nas))
}

// openMember is a record's member in its NAS's open index:
// "<mac hex>|<Acct-Session-Id>", or "<mac hex>@<address>|<Acct-Session-Id>"
// for a record of one address of a network NAS entry. An address never
// holds '|', so the first '|' ends it whatever the Acct-Session-Id holds.
func openMember(mac session.MAC, src, acctID string) string {
	return openMemberHex(mac.Hex(), src, acctID)
}

func openMemberHex(hex, src, acctID string) string {
	var buf [96]byte
	return string(appendOpenMember(buf[:0], []byte(hex), src, acctID))
}

func appendOpenMember(b []byte, hex []byte, src, acctID string) []byte {
	b = append(b, hex...)
	if src != "" {
		b = append(append(b, '@'), src...)
	}
	return append(append(b, '|'), acctID...)
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
