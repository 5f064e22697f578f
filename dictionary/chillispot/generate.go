// Package chillispot provides the ChilliSpot / CoovaChilli vendor-specific
// attributes (vendor 14559), generated from dictionary.chillispot.
//
// Units: *-Octets are bytes and *-Gigawords the high 32 bits of the same byte
// count (limit = Gigawords<<32 | Octets); Bandwidth-Max-Up/Down are kbit/s.
// Up and Input are traffic sent by the client.
package chillispot

//go:generate go tool radius-dict-gen -package chillispot -output generated.go dictionary.chillispot
