import Foundation
import Testing
import TrainyardKafka
import TrainyardTesting

/// Pauses across rebalances and a full producer queue, against the real local broker.
@Suite("Kafka flow control against the local broker", .serialized)
struct KafkaFlowControlTests {
    let logger = TestEnvironment.logger("kafka-flow-tests")

    /// Waits for `count` records on `consumer` (fails after a generous deadline).
    func read(_ consumer: KafkaConsumer, count: Int) async throws -> [KafkaMessage] {
        try await withThrowingTaskGroup(of: [KafkaMessage]?.self) { group in
            group.addTask {
                var messages: [KafkaMessage] = []
                for await event in consumer.events {
                    guard case .message(let message) = event else { continue }
                    messages.append(message)
                    if messages.count == count { break }
                }
                return messages
            }
            group.addTask {
                try await Task.sleep(for: .seconds(120))
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            guard let messages = first else { throw TestEnvironment.Missing(description: "timed out waiting for \(count) records") }
            return messages
        }
    }

    func produceOnePerPartition(_ configuration: KafkaConfiguration, topic: String, partitions: Int32) async throws {
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: configuration), logger: logger)
        for partition in 0..<partitions {
            _ = try await producer.send(KafkaProducerMessage(topic: topic, value: Data("p\(partition)".utf8), partition: partition))
        }
        await producer.close()
    }

    /// The worker's pattern in issue #18: it pauses its assignment, loses it, resumes the (then
    /// different) assignment, and is given the first partitions back. librdkafka keeps a pause
    /// across an unassign; the consumer must not.
    @Test("a partition paused, revoked and assigned again is read again")
    func pauseEndsWithRevocation() async throws {
        let topic = TestEnvironment.uniqueName("pause-revoke")
        let configuration = try await TestEnvironment.kafka(topics: [topic], partitions: 2)
        let consumerConfiguration = KafkaConsumerConfiguration(common: configuration, groupID: TestEnvironment.uniqueName("group"), topics: [topic])
        let first = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        #expect(try await eventually(timeout: .seconds(120)) { first.assignment.count == 2 })
        first.pause(Array(first.assignment))

        let second = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        #expect(try await eventually(timeout: .seconds(120)) { first.assignment.count == 1 && second.assignment.count == 1 })
        first.resume(Array(first.assignment))  // only the partition it holds now
        await second.close()
        #expect(try await eventually(timeout: .seconds(120)) { first.assignment.count == 2 })

        try await produceOnePerPartition(configuration, topic: topic, partitions: 2)
        let messages = try await read(first, count: 2)
        #expect(Set(messages.map(\.partition)) == [0, 1])
        await first.close()
    }

    @Test("resumeAll resumes partitions assigned while everything was paused")
    func pauseAllCoversLaterAssignments() async throws {
        let topic = TestEnvironment.uniqueName("pause-all")
        let configuration = try await TestEnvironment.kafka(topics: [topic], partitions: 2)
        let consumerConfiguration = KafkaConsumerConfiguration(common: configuration, groupID: TestEnvironment.uniqueName("group"), topics: [topic])
        let first = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        #expect(try await eventually(timeout: .seconds(120)) { first.assignment.count == 2 })
        first.pauseAll()
        let second = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        #expect(try await eventually(timeout: .seconds(120)) { first.assignment.count == 1 && second.assignment.count == 1 })
        await second.close()
        #expect(try await eventually(timeout: .seconds(120)) { first.assignment.count == 2 })
        try await produceOnePerPartition(configuration, topic: topic, partitions: 2)

        first.resumeAll()
        let messages = try await read(first, count: 2)
        #expect(Set(messages.map(\.partition)) == [0, 1])
        await first.close()
    }

    @Test("send and enqueue wait for room when librdkafka's queue is full, and every record is delivered")
    func fullQueueWaits() async throws {
        let topic = TestEnvironment.uniqueName("full-queue")
        var common = try await TestEnvironment.kafka(topics: [topic], partitions: 1)
        common.properties["queue.buffering.max.messages"] = "5"
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: common), logger: logger)
        let reports = try await withThrowingTaskGroup(of: KafkaDeliveryReport.self) { group in
            for index in 0..<40 {
                group.addTask { try await producer.send(KafkaProducerMessage(topic: topic, key: "k", value: Data("send-\(index)".utf8))) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(reports.map(\.offset)).count == 40)
        for index in 0..<40 { try producer.enqueue(KafkaProducerMessage(topic: topic, key: "k", value: Data("enqueue-\(index)".utf8))) }
        try await producer.flush()
        await producer.close()

        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(common: common, groupID: TestEnvironment.uniqueName("group"), topics: [topic]), logger: logger)
        let messages = try await read(consumer, count: 80)
        await consumer.close()
        #expect(Set(messages.map { String(decoding: $0.value, as: UTF8.self) }).count == 80)
    }
}
