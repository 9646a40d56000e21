package partition

import "testing"

// Reference values computed with Kafka's own code (kafka-clients 4.4.0:
// org.apache.kafka.common.utils.Utils.murmur2 and toPositive(h) % n, which
// is what the Java default partitioner does for keyed records). The first
// five strings are the vectors of Kafka's UtilsTest.testMurmur2.
var murmur2Vectors = []struct {
	key               []byte
	hash              int32
	mod3, mod4, mod12 int32
}{
	{[]byte("21"), -973932308, 0, 0, 0},
	{[]byte("foobar"), -790332482, 0, 2, 6},
	{[]byte("a-little-bit-long-string"), -985981536, 2, 0, 8},
	{[]byte("a-little-bit-longer-string"), -1486304829, 2, 3, 11},
	{[]byte("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971, 2, 1, 5},
	// Every tail length (0-3 bytes after the 4-byte blocks).
	{[]byte(""), 275646681, 0, 1, 9},
	{[]byte("a"), -1563381124, 1, 0, 4},
	{[]byte("ab"), 316155434, 2, 2, 2},
	{[]byte("abc"), 479470107, 0, 3, 3},
	{[]byte("abcd"), -1323649548, 2, 0, 8},
	{[]byte("abcde"), 461995741, 1, 1, 1},
	{[]byte("1"), -1993445489, 0, 3, 3},
	{[]byte("12"), 126087238, 1, 2, 10},
	{[]byte("123"), -267702483, 2, 1, 5},
	{[]byte("1234"), -1614185708, 0, 0, 0},
	{[]byte("12345"), -1188365604, 2, 0, 8},
	{[]byte("string-f-24-chars-length"), 124730809, 1, 1, 1},
	{[]byte("string-last-27-chars-length"), 1089971754, 0, 2, 6},
	{[]byte("hello"), 2132663229, 0, 1, 9},
	{[]byte("kafka"), -798503068, 1, 0, 4},
	{[]byte("eddy"), 1739472601, 1, 1, 1},
	{[]byte("word"), 1166608147, 1, 3, 7},
	{[]byte("the"), -890893617, 2, 3, 11},
	{[]byte("quick brown fox"), 1864546918, 1, 2, 10},
	// Multi-byte UTF-8: bytes above 0x7f are unsigned in Java's
	// "data[i] & 0xff" too.
	{[]byte("été"), -2101193575, 1, 1, 1},
	{[]byte("日本"), -700811021, 0, 3, 3},
	// Binary keys as Kafka serializers write them.
	{[]byte{0, 0, 0, 0, 0, 0, 0, 1}, 2100486060, 0, 0, 0}, // LongSerializer(1)
	{[]byte{0, 0, 0, 1}, -173113808, 0, 0, 0},             // IntegerSerializer(1)
	{[]byte{0xff, 0xfe, 0x80, 0x7f, 0x01}, 1671290684, 2, 0, 8},
	{[]byte{0x80}, 857690492, 2, 0, 8},
	{[]byte{0xff, 0xff, 0xff}, 1548199422, 0, 2, 6},
}

func TestMurmur2MatchesKafka(t *testing.T) {
	for _, v := range murmur2Vectors {
		if got := murmur2(v.key); got != v.hash {
			t.Errorf("murmur2(%q) = %d, want %d", v.key, got, v.hash)
		}
	}
}

func TestKeyPartitionMatchesKafkaDefaultPartitioner(t *testing.T) {
	for _, v := range murmur2Vectors {
		for n, want := range map[int32]int32{1: 0, 3: v.mod3, 4: v.mod4, 12: v.mod12} {
			if got := KeyPartition(v.key, n); got != want {
				t.Errorf("KeyPartition(%q, %d) = %d, want %d", v.key, n, got, want)
			}
		}
	}
}

func TestKeyPartitionIsInRange(t *testing.T) {
	// toPositive masks the sign bit (it is not Math.abs, which would keep
	// MinInt32 negative): every hash gives a partition in [0, n).
	for _, v := range murmur2Vectors {
		for n := int32(1); n <= 64; n++ {
			if p := KeyPartition(v.key, n); p < 0 || p >= n {
				t.Fatalf("KeyPartition(%q, %d) = %d", v.key, n, p)
			}
		}
	}
}
