// The Kafka Streams (4.4.0) reference programs of the benchmarks: the same
// workloads as bench/cmd/eddy-bench, on the same broker and input, speaking
// the same line protocol on standard output (see bench/workload/workload.go):
//
//   ready | progress <n> | restore_ms <ms> | skipped <reason> | error <text>
//
// Built by bench/kafka-streams/build.sh with javac against the jars of
// pom.xml, and run by the driver with a fixed heap (-Xms1g -Xmx1g).
//
// Settings that differ from Kafka Streams' defaults, all to do the same work
// as the other systems (documented in docs/benchmarks/README.md):
//   num.stream.threads=2          the machine's cores, as Eddy and goka use
//   commit.interval.ms=<flag>     1000 under at-least-once, as every system
//                                 here; exactly-once keeps its 100 ms default
//   producer compression=snappy   as franz-go (Eddy, raw) and goka send
//   producer linger.ms=5          latency workload only: Eddy's linger
//   statestore.cache.max.bytes=0  word count workloads only: every update
//                                 sent, as examples/01-wordcount does
// Elsewhere the record cache (statestore.cache.max.bytes, 10 MiB) keeps its
// default.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

public final class KStreamsBench {
    static final String COUNT_STORE = "counts";
    static final long WINDOW_MS = 10_000L;

    static final Object OUT_LOCK = new Object();
    static final AtomicLong COUNTER = new AtomicLong();
    static final AtomicLong RUNNING_AT = new AtomicLong(); // System.nanoTime() at RUNNING

    static void line(String s) {
        synchronized (OUT_LOCK) {
            System.out.println(s);
            System.out.flush();
        }
    }

    static boolean keep(byte[] v) {
        return v.length > 16 && v[16] != '0';
    }

    static byte[] upper(byte[] v) {
        byte[] out = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            byte c = v[i];
            if (c >= 'a' && c <= 'z') {
                c -= 'a' - 'A';
            }
            out[i] = c;
        }
        return out;
    }

    static byte[] joinValue(byte[] s, byte[] t) {
        byte[] out = new byte[s.length + 1 + t.length];
        System.arraycopy(s, 0, out, 0, s.length);
        out[s.length] = '|';
        System.arraycopy(t, 0, out, s.length + 1, t.length);
        return out;
    }

    // words splits a line as examples/wordcount.Words does: maximal runs of
    // letters or digits, lower-cased.
    static java.util.List<String> words(String line) {
        java.util.List<String> out = new java.util.ArrayList<>();
        int start = -1;
        for (int i = 0; i <= line.length(); i++) {
            boolean in = i < line.length() && Character.isLetterOrDigit(line.charAt(i));
            if (in && start < 0) {
                start = i;
            } else if (!in && start >= 0) {
                out.add(line.substring(start, i).toLowerCase(java.util.Locale.ROOT));
                start = -1;
            }
        }
        return out;
    }

    static KStream<String, byte[]> source(StreamsBuilder b, String input) {
        return b.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
                .peek((k, v) -> COUNTER.incrementAndGet());
    }

    public static void main(String[] args) throws Exception {
        String workload = null, brokers = "127.0.0.1:9092", appId = null, stateDir = null;
        String input = null, output = null, table = null;
        long commitMs = 1000;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "-workload": workload = args[i + 1]; break;
                case "-brokers": brokers = args[i + 1]; break;
                case "-app-id": appId = args[i + 1]; break;
                case "-state-dir": stateDir = args[i + 1]; break;
                case "-input": input = args[i + 1]; break;
                case "-output": output = args[i + 1]; break;
                case "-table": table = args[i + 1]; break;
                case "-commit-interval": commitMs = parseDurationMs(args[i + 1]); break;
                default: throw new IllegalArgumentException("unknown flag " + args[i]);
            }
        }
        if (workload == null || appId == null || stateDir == null || input == null) {
            line("error -workload, -app-id, -state-dir and -input are required");
            System.exit(2);
        }

        boolean eos = workload.endsWith("-eos");
        boolean wordCount = workload.equals("wordcount") || workload.equals("wordcount-eos");
        StreamsBuilder b = new StreamsBuilder();
        switch (workload) {
            case "stateless":
            case "stateless-eos":
            case "latency":
                source(b, input).filter((k, v) -> keep(v)).mapValues(KStreamsBench::upper)
                        .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
                break;
            case "count":
            case "count-eos":
            case "restore":
                source(b, input).groupByKey(Grouped.with(Serdes.String(), Serdes.ByteArray()))
                        .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as(COUNT_STORE)
                                .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
                        .toStream().to(output, Produced.with(Serdes.String(), Serdes.Long()));
                break;
            case "windowed":
                source(b, input).groupByKey(Grouped.with(Serdes.String(), Serdes.ByteArray()))
                        .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMillis(WINDOW_MS)))
                        .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as(COUNT_STORE)
                                .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
                        .toStream()
                        .to(output, Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, WINDOW_MS), Serdes.Long()));
                break;
            case "join": {
                KTable<String, byte[]> t = b.table(table, Consumed.with(Serdes.String(), Serdes.ByteArray()),
                        Materialized.<String, byte[], KeyValueStore<Bytes, byte[]>>as("table")
                                .withKeySerde(Serdes.String()).withValueSerde(Serdes.ByteArray()));
                source(b, input).join(t, KStreamsBench::joinValue)
                        .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
                break;
            }
            case "wordcount":
            case "wordcount-eos":
                // examples/01-wordcount: lines → words → repartition by
                // word → count (RocksDB, changelog) → every update sent.
                b.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                        .peek((k, v) -> COUNTER.incrementAndGet())
                        .flatMapValues(KStreamsBench::words)
                        .groupBy((k, w) -> w, Grouped.with(Serdes.String(), Serdes.String()))
                        .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as(COUNT_STORE)
                                .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
                        .toStream().to(output, Produced.with(Serdes.String(), Serdes.Long()));
                break;
            default:
                line("error unknown workload " + workload);
                System.exit(2);
        }

        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 2);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "snappy");
        if (eos) {
            p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        } else {
            p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitMs);
        }
        if (wordCount) {
            p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0L);
        }
        if (workload.equals("latency")) {
            p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 5);
        }

        KafkaStreams streams = new KafkaStreams(b.build(), p);
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch failed = new CountDownLatch(1);
        streams.setStateListener((now, old) -> {
            if (now == KafkaStreams.State.RUNNING) {
                RUNNING_AT.compareAndSet(0, System.nanoTime());
                running.countDown();
            } else if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.PENDING_ERROR) {
                failed.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            line("error " + String.valueOf(e).replace('\n', ' '));
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.countDown();
            streams.close(Duration.ofSeconds(30));
            line("progress " + COUNTER.get());
        }));

        long t0 = System.nanoTime();
        streams.start();
        Thread reporter = new Thread(() -> {
            long last = -1;
            boolean ready = false;
            try {
                // Progress from the start, as the other programs: the
                // driver's span begins at the first record taken in.
                while (true) {
                    if (!ready && running.getCount() == 0) {
                        ready = true;
                        line("restore_ms " + TimeUnit.NANOSECONDS.toMillis(RUNNING_AT.get() - t0));
                        line("ready");
                    }
                    Thread.sleep(10);
                    long n = COUNTER.get();
                    if (n != last) {
                        last = n;
                        line("progress " + n);
                    }
                }
            } catch (InterruptedException e) {
                // exit
            }
        }, "bench-reporter");
        reporter.setDaemon(true);
        reporter.start();
        failed.await();
        line("error kafka streams reached state " + streams.state());
        System.exit(1);
    }

    static long parseDurationMs(String s) {
        // Go duration syntax as the driver passes it: "1s", "100ms", "1m0s".
        if (s.endsWith("ms")) {
            return Long.parseLong(s.substring(0, s.length() - 2));
        }
        java.time.Duration d = java.time.Duration.parse("PT" + s.toUpperCase().replace("M0S", "M"));
        return d.toMillis();
    }
}
