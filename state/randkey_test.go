package state

import "math/rand/v2"

// randKey draws from a small space with 0x00 and 0xff bytes so that keys
// collide, nest as prefixes and sit on the edges.
func randKey(r *rand.Rand) []byte {
	alphabet := []byte{0x00, 'a', 'b', 0xfe, 0xff}
	k := make([]byte, r.IntN(4))
	for i := range k {
		k[i] = alphabet[r.IntN(len(alphabet))]
	}
	return k
}
