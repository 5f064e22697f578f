package radiusd

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"math/rand/v2"
	"testing"
)

// TestHMACMD5 holds the allocation-free HMAC-MD5 to crypto/hmac for keys
// shorter than, equal to and longer than the MD5 block, and messages up to
// the largest packet.
func TestHMACMD5(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, keyLen := range []int{0, 1, 16, 63, 64, 65, 200} {
		for _, msgLen := range []int{0, 20, 100, maxPacketLen} {
			key, msg := make([]byte, keyLen), make([]byte, msgLen)
			for i := range key {
				key[i] = byte(rng.Uint32())
			}
			for i := range msg {
				msg[i] = byte(rng.Uint32())
			}
			ref := hmac.New(md5.New, key)
			ref.Write(msg)
			want := ref.Sum(nil)
			var got [16]byte
			withScratch(func(buf *[scratchLen]byte) {
				copy(buf[64:], msg)
				got = hmacMD5(key, buf, len(msg))
			})
			if !bytes.Equal(got[:], want) {
				t.Errorf("key %d octets, message %d: %x, crypto/hmac %x", keyLen, msgLen, got, want)
			}
		}
	}
}

// TestDigestsAllocateNothing: the per-packet hashing allocates nothing.
func TestDigestsAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items: allocation counts are meaningless")
	}
	secret := []byte("a-shared-secret-of-some-length")
	pkt := make([]byte, 200)
	pkt[0], pkt[2], pkt[3] = byte(1), 0, 200
	pkt[20], pkt[21] = maType, maAttrLen
	if n := testing.AllocsPerRun(100, func() {
		verifyMA(pkt, 22, secret)
		verifyRequestAuth(pkt, secret)
		sign(pkt, [16]byte{}, secret)
	}); n != 0 {
		t.Errorf("%v allocations per packet, want 0", n)
	}
}
