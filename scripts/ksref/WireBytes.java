import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.kstream.SessionWindowedSerializer;
import org.apache.kafka.streams.kstream.TimeWindowedSerializer;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.kstream.internals.SessionWindow;
import org.apache.kafka.streams.kstream.internals.TimeWindow;
import org.apache.kafka.streams.state.internals.SessionKeySchema;
import org.apache.kafka.streams.state.internals.WindowKeySchema;

/**
 * Prints, in hex, the bytes Kafka Streams writes for the key "ab" in a
 * window [5, 15) or session [3, 9]: the windowed serdes of output topics and
 * the keys of window and session stores (their changelogs).
 */
public class WireBytes {
    public static void main(final String[] args) {
        final byte[] ab = new StringSerializer().serialize("t", "ab");
        try (TimeWindowedSerializer<String> tw = new TimeWindowedSerializer<>(new StringSerializer());
             SessionWindowedSerializer<String> sw = new SessionWindowedSerializer<>(new StringSerializer())) {
            print("TimeWindowedSerializer", tw.serialize("t", new Windowed<>("ab", new TimeWindow(5, 15))));
            print("SessionWindowedSerializer", sw.serialize("t", new Windowed<>("ab", new SessionWindow(3, 9))));
        }
        print("WindowKeySchema.toStoreKeyBinary", WindowKeySchema.toStoreKeyBinary(Bytes.wrap(ab), 5, 7).get());
        print("SessionKeySchema.toBinary", SessionKeySchema.toBinary(new Windowed<>(Bytes.wrap(ab), new SessionWindow(3, 9))).get());
    }

    private static void print(final String what, final byte[] b) {
        final StringBuilder s = new StringBuilder();
        for (final byte x : b) {
            s.append(String.format("%02x", x));
        }
        System.out.println(what + " " + s);
    }
}
