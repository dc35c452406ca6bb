import Foundation
import Synchronization
import Testing
import TrainyardKafka
import TrainyardTesting

/// Concurrent producers and a short fetch wait, against the real local broker: the consumer
/// must hand out every offset of a partition, in order, with no gap.
///
/// The local broker (Tansu 0.6.0) advances a partition's high watermark before it stores the
/// batch it allocated offsets for; a fetch in that window that finds a later batch (another
/// producer's, already stored) returns it, and librdkafka moves past the missing one.
@Suite("Kafka offset continuity against the local broker", .serialized)
struct KafkaOffsetContinuityTests {
    let logger = TestEnvironment.logger("kafka-continuity-tests")

    @Test("every offset is delivered once, in order, while several producers write the same partitions")
    func noGapsUnderConcurrentProducers() async throws {
        let topic = TestEnvironment.uniqueName("continuity")
        let partitions: Int32 = 2
        let configuration = try await TestEnvironment.kafka(topics: [topic], partitions: Int(partitions))
        var consumerConfiguration = KafkaConsumerConfiguration(
            common: configuration, groupID: TestEnvironment.uniqueName("group"), topics: [topic], readsHeaders: false)
        consumerConfiguration.common.properties["fetch.wait.max.ms"] = "10"
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        let delivered = Mutex<[Int32: [Int64]]>([:])
        let reader = Task {
            for await event in consumer.events {
                guard case .message(let message) = event else { continue }
                delivered.withLock { $0[message.partition, default: []].append(message.offset) }
            }
        }
        #expect(try await eventually(timeout: .seconds(120)) { consumer.assignment.count == Int(partitions) })

        // Several producers (each its own connection, so the broker serves their batches
        // concurrently), one record per batch, alternating partitions.
        let producers = 6
        let recordsPerProducer = 500
        let lastOffsets = try await withThrowingTaskGroup(of: [Int32: Int64].self) { group in
            for producerIndex in 0..<producers {
                group.addTask {
                    let producer = try KafkaProducer(
                        configuration: KafkaProducerConfiguration(common: configuration, lingerMilliseconds: 0), logger: logger)
                    var last: [Int32: Int64] = [:]
                    for index in 0..<recordsPerProducer {
                        let partition = Int32(index) % partitions
                        let report = try await producer.send(
                            KafkaProducerMessage(topic: topic, value: Data("\(producerIndex)-\(index)".utf8), partition: partition))
                        last[partition] = max(last[partition] ?? -1, report.offset)
                    }
                    await producer.close()
                    return last
                }
            }
            var last: [Int32: Int64] = [:]
            for try await partial in group { last.merge(partial) { max($0, $1) } }
            return last
        }
        #expect(lastOffsets.values.reduce(0) { $0 + $1 + 1 } == Int64(producers * recordsPerProducer))

        let reachedEnd = try await eventually(timeout: .seconds(120)) {
            delivered.withLock { seen in lastOffsets.allSatisfy { partition, last in (seen[partition]?.last ?? -1) >= last } }
        }
        reader.cancel()
        await consumer.close()
        #expect(reachedEnd)
        for (partition, last) in lastOffsets.sorted(by: { $0.key < $1.key }) {
            let offsets = delivered.withLock { $0[partition] ?? [] }
            let missing = Set(0...last).subtracting(offsets).sorted()
            #expect(missing.isEmpty, "partition \(partition): offsets never delivered: \(missing.prefix(20))")
            #expect(offsets.count == Int(last) + 1 && offsets == offsets.sorted(), "partition \(partition): delivered out of order or twice")
        }
    }
}
