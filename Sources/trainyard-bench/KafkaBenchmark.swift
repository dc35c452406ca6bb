import Foundation
import Logging
import TrainyardKafka

/// Produces and consumes N records through the Swift Kafka module and prints the rates, in
/// the same form `ops/bench` prints for its kcat baseline. A benchmark, not a test.
///
/// Usage: `trainyard-bench produce|consume BROKERS TOPIC COUNT SIZE`; `trainyard-bench ingest …`
/// measures the store alone (`IngestBenchmark`).
@main
struct KafkaBenchmark {
    static func main() async throws {
        let arguments = CommandLine.arguments
        if arguments.count > 1, arguments[1] == "ingest" {
            try IngestBenchmark.run(Array(arguments.dropFirst(2)))
            return
        }
        guard arguments.count == 6, let count = Int(arguments[4]), let size = Int(arguments[5]) else {
            FileHandle.standardError.write(Data("usage: trainyard-bench produce|consume BROKERS TOPIC COUNT SIZE\n".utf8))
            exit(2)
        }
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let configuration = KafkaConfiguration(bootstrapServers: arguments[2], clientID: "trainyard-bench")
        let topic = arguments[3]
        let clock = ContinuousClock()
        switch arguments[1] {
        case "produce":
            let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: configuration), logger: logger)
            let payload = Data(repeating: UInt8(ascii: "x"), count: size)
            let elapsed = try await clock.measure {
                for index in 0..<count {
                    try producer.enqueue(KafkaProducerMessage(topic: topic, key: Data(String(index).utf8), value: payload))
                }
                try await producer.flush()
            }
            await producer.close()
            report("swift-produce", count: count, elapsed: elapsed)
        case "consume":
            // Headers not read: the raw C baseline reads none either (TRAINYARD_BENCH_HEADERS=1 reads them).
            let readsHeaders = ProcessInfo.processInfo.environment["TRAINYARD_BENCH_HEADERS"] == "1"
            let consumer = try KafkaConsumer(
                configuration: KafkaConsumerConfiguration(
                    common: configuration, groupID: "bench-\(UUID().uuidString)", topics: [topic], readsHeaders: readsHeaders),
                logger: logger)
            var received = 0
            var started = clock.now
            for await event in consumer.events {
                guard case .message = event else { continue }
                // Timed from the first record, as for kcat: group join time is not consume speed.
                if received == 0 { started = clock.now }
                received += 1
                if received == count { break }
            }
            let elapsed = clock.now - started
            await consumer.close()
            report("swift-consume", count: received, elapsed: elapsed)
        default:
            FileHandle.standardError.write(Data("unknown mode \(arguments[1])\n".utf8))
            exit(2)
        }
    }

    static func report(_ name: String, count: Int, elapsed: Duration) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "%@ messages=%d seconds=%.3f rate=%.0f", name, count, seconds, Double(count) / max(seconds, 1e-9)))
    }
}
