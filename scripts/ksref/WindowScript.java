import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.common.serialization.LongSerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindowedKStream;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindowedKStream;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;

/**
 * Runs a window script of streamtest/testdata/windows on Kafka Streams'
 * TopologyTestDriver and prints, after each pipe line, the output records
 * in the script's own "out KEY START END VALUE" form, and for each dropped
 * line the driver's dropped-records total. Diff it against the script's
 * body to check its expectations. Commit and restart lines are printed as
 * comments: the driver commits after every record and does not restart.
 * The record cache is off, so every update goes out, as in Eddy's driver.
 */
public class WindowScript {
    public static void main(final String[] args) throws Exception {
        String kind = null;
        final List<Duration> ds = new ArrayList<>();
        String agg = "count";
        boolean emitFinal = false;
        Suppressed<? super Windowed<?>> suppress = null;
        final List<String[]> body = new ArrayList<>();
        boolean inBody = false;
        for (String l : Files.readAllLines(Paths.get(args[0]))) {
            l = l.trim();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            final String[] f = l.split("\\s+");
            if (!inBody) {
                switch (f[0]) {
                    case "windows":
                        kind = f[1];
                        for (int i = 2; i < f.length; i++) {
                            ds.add(millis(f[i]));
                        }
                        continue;
                    case "agg":
                        agg = f[1];
                        continue;
                    case "emit":
                        emitFinal = f[1].equals("final");
                        continue;
                    case "suppress":
                        if (f[1].equals("closes")) {
                            suppress = Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded());
                        } else {
                            suppress = Suppressed.untilTimeLimit(millis(f[2]), f.length > 3
                                ? Suppressed.BufferConfig.maxRecords(Long.parseLong(f[3]))
                                : Suppressed.BufferConfig.unbounded());
                        }
                        continue;
                    default:
                        inBody = true;
                }
            }
            body.add(f);
        }

        final StreamsBuilder b = new StreamsBuilder();
        final KGroupedStream<String, Long> g =
            b.stream("in", Consumed.with(Serdes.String(), Serdes.Long())).groupByKey();
        KTable<Windowed<String>, Long> table;
        if (kind.equals("session")) {
            SessionWindowedKStream<String, Long> w =
                g.windowedBy(SessionWindows.ofInactivityGapAndGrace(ds.get(0), ds.get(1)));
            if (emitFinal) {
                w = w.emitStrategy(EmitStrategy.onWindowClose());
            }
            table = agg.equals("sum") ? w.reduce(Long::sum) : w.count();
        } else {
            TimeWindowedKStream<String, Long> w;
            switch (kind) {
                case "tumbling":
                    w = g.windowedBy(TimeWindows.ofSizeAndGrace(ds.get(0), ds.get(1)));
                    break;
                case "hopping":
                    w = g.windowedBy(TimeWindows.ofSizeAndGrace(ds.get(0), ds.get(2)).advanceBy(ds.get(1)));
                    break;
                default:
                    w = g.windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(ds.get(0), ds.get(1)));
            }
            if (emitFinal) {
                w = w.emitStrategy(EmitStrategy.onWindowClose());
            }
            table = agg.equals("sum") ? w.reduce(Long::sum) : w.count();
        }
        if (suppress != null) {
            @SuppressWarnings("unchecked")
            final Suppressed<Windowed<String>> s = (Suppressed<Windowed<String>>) (Suppressed<?>) suppress;
            table = table.suppress(s);
        }
        table.toStream()
            .map((k, v) -> KeyValue.pair(k.key() + " " + k.window().start() + " " + k.window().end(),
                v == null ? "null" : v.toString()))
            .to("out", Produced.with(Serdes.String(), Serdes.String()));

        final Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "window-script");
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        // Emit final results on every record rather than once a second of
        // wall-clock time (an internal setting of Kafka Streams).
        p.put("__emit.interval.ms.kstreams.windowed.aggregation__", 0L);
        try (TopologyTestDriver d = new TopologyTestDriver(b.build(), p)) {
            final TestInputTopic<String, Long> in =
                d.createInputTopic("in", new StringSerializer(), new LongSerializer());
            final TestOutputTopic<String, String> out =
                d.createOutputTopic("out", new StringDeserializer(), new StringDeserializer());
            for (final String[] f : body) {
                switch (f[0]) {
                    case "pipe":
                        in.pipeInput(f[1], f.length > 3 ? Long.parseLong(f[3]) : 1L, Long.parseLong(f[2]));
                        System.out.println(String.join(" ", f));
                        for (final KeyValue<String, String> kv : out.readKeyValuesToList()) {
                            System.out.println("out " + kv.key + " " + kv.value);
                        }
                        break;
                    case "out":
                        break;
                    case "dropped":
                        double n = 0;
                        for (final var e : d.metrics().entrySet()) {
                            if (e.getKey().name().equals("dropped-records-total")) {
                                n += (Double) e.getValue().metricValue();
                            }
                        }
                        System.out.println("dropped " + f[1] + " " + (long) n);
                        break;
                    default:
                        System.out.println("# " + String.join(" ", f));
                }
            }
        }
    }

    private static Duration millis(final String s) {
        if (!s.endsWith("ms")) {
            throw new IllegalArgumentException("durations in ms only: " + s);
        }
        return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
    }
}
