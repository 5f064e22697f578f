package packet

import (
	"crypto/md5"
	"sync"
)

// Every request and reply is hashed two or three times (Message-Authenticator,
// request or response authenticator). Through hash.Hash each digest, and
// hmac.New's two, were heap allocations per packet (the interface hides the
// state from escape analysis); md5.Sum over one contiguous buffer needs none.
// So the bytes to hash are laid out in a pooled scratch buffer first.

// scratchLen holds an HMAC pad and the largest packet, or a packet and a
// long secret; a longer secret still works (append grows a fresh slice).
const scratchLen = 64 + MaxLen + 256

var scratchPool = sync.Pool{New: func() any { return new([scratchLen]byte) }}

// withScratch runs fn with a scratch buffer.
func withScratch(fn func(buf *[scratchLen]byte)) {
	buf := scratchPool.Get().(*[scratchLen]byte)
	fn(buf)
	scratchPool.Put(buf)
}

// hmacMD5 returns HMAC-MD5 (RFC 2104) under key of the message already in
// buf[64:64+n]; it overwrites buf[:64].
func hmacMD5(key []byte, buf *[scratchLen]byte, n int) [16]byte {
	var k [64]byte
	if len(key) > 64 {
		sum := md5.Sum(key)
		copy(k[:], sum[:])
	} else {
		copy(k[:], key)
	}
	for i := range 64 {
		buf[i] = k[i] ^ 0x36
	}
	inner := md5.Sum(buf[:64+n])
	var outer [64 + 16]byte
	for i := range 64 {
		outer[i] = k[i] ^ 0x5c
	}
	copy(outer[64:], inner[:])
	return md5.Sum(outer[:])
}
