// Package pfsense provides the pfSense captive portal vendor-specific
// attributes (vendor 13644), generated from dictionary.pfsense.
//
// Units: Bandwidth-Max-Up/Down are bit/s (Up is traffic sent by the client);
// Max-Total-Octets is bytes, input plus output, with no gigawords companion,
// so a larger limit must be clamped to 2^32-1.
package pfsense

//go:generate go tool radius-dict-gen -package pfsense -output generated.go dictionary.pfsense
