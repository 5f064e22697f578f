package packet

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
		for _, msgLen := range []int{0, 20, 100, MaxLen} {
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

// TestDigestsAllocateNothing: the per-packet hashing, signing and checking
// allocate nothing, nor do the PAP and CHAP digests.
func TestDigestsAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items: allocation counts are meaningless")
	}
	secret := []byte("a-shared-secret-of-some-length")
	pkt := make([]byte, 200)
	pkt[0], pkt[2], pkt[3] = byte(1), 0, 200
	pkt[20], pkt[21] = MAType, MALen
	acct := bytes.Clone(pkt)
	acct[0] = 4 // Accounting-Request
	var reqAuth [16]byte
	pw, challenge := []byte("aa:bb:cc:dd:ee:ff"), make([]byte, 16)
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() {
		VerifyRequestMA(pkt, 22, secret)
		VerifyRequest(acct, secret)
		SignReply(pkt, 22, reqAuth, secret)
		VerifyReply(pkt, reqAuth, secret)
		VerifyReplyMA(pkt, 22, reqAuth, secret)
		SignRequest(pkt, 22, secret)
		SignRequest(acct, 22, secret)
		VerifyCHAP(append(buf[:0], make([]byte, 17)...), pw, challenge)
		_, _ = AppendUserPassword(buf[:0], pw, reqAuth, secret)
	}); n != 0 {
		t.Errorf("%v allocations per packet, want 0", n)
	}
}
