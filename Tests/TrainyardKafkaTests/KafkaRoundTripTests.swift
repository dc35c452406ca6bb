import Foundation
import Testing
import TrainyardKafka
import TrainyardTesting

/// Against the real local broker started by ./ops/test.
@Suite("Kafka module against the local broker", .serialized)
struct KafkaRoundTripTests {
    let logger = TestEnvironment.logger("kafka-tests")

    /// Reads `count` messages (or fails after `timeout`), acknowledging each by storing its offset.
    func collect(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(120)) async throws -> [KafkaMessage] {
        try await withThrowingTaskGroup(of: [KafkaMessage]?.self) { group in
            group.addTask {
                var messages: [KafkaMessage] = []
                for await event in consumer.events {
                    guard case .message(let message) = event else { continue }
                    messages.append(message)
                    consumer.storeOffset(message.topicPartition, nextOffset: message.offset + 1)
                    if messages.count == count { break }
                }
                return messages
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            guard let messages = first else { throw TestEnvironment.Missing(description: "timed out waiting for \(count) messages") }
            return messages
        }
    }

    @Test("produce and consume keep keys, values, headers and per-key order")
    func roundTrip() async throws {
        let topic = TestEnvironment.uniqueName("roundtrip")
        let configuration = try await TestEnvironment.kafka(topics: [topic])
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: configuration), logger: logger)
        var reports: [KafkaDeliveryReport] = []
        for index in 0..<20 {
            let message = KafkaProducerMessage(
                topic: topic, key: "key-\(index % 3)", value: Data("value-\(index)".utf8),
                headers: [KafkaHeader(key: "index", string: String(index)), KafkaHeader(key: "empty", value: nil)])
            reports.append(try await producer.send(message))
        }
        #expect(reports.allSatisfy { $0.topic == topic && $0.offset >= 0 })
        await producer.close()

        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(common: configuration, groupID: TestEnvironment.uniqueName("group"), topics: [topic]),
            logger: logger)
        let messages = try await collect(consumer, count: 20)
        await consumer.close()

        for message in messages {
            let index = Int(String(decoding: message.header("index")!, as: UTF8.self))!
            #expect(message.value == Data("value-\(index)".utf8))
            #expect(message.key == Data("key-\(index % 3)".utf8))
            #expect(message.headers.first { $0.key == "empty" }.map { $0.value == nil } == true)
            let report = reports[index]
            #expect(report.partition == message.partition && report.offset == message.offset)
        }
        for key in 0..<3 {
            let indexes = messages.filter { $0.key == Data("key-\(key)".utf8) }.map { Int(String(decoding: $0.header("index")!, as: UTF8.self))! }
            #expect(indexes == indexes.sorted(), "per-key order")
            #expect(Set(messages.map(\.partition)).count >= 1)
        }
    }

    @Test("keys and values of all sizes come back byte for byte, still readable after the consumer closed; headers unread when turned off")
    func sizesAndSharedBlocks() async throws {
        let topic = TestEnvironment.uniqueName("sizes")
        let configuration = try await TestEnvironment.kafka(topics: [topic], partitions: 1)
        // Values around the inline limit (14 bytes) and the shared block's (16 KiB), one past it.
        let valueSizes = [0, 1, 14, 15, 200, 9000, 16 * 1024, 17000, 40000, 3]
        let keys: [Data?] = [nil, Data("k".utf8), Data(String(repeating: "long-key-", count: 4).utf8)]
        func key(_ index: Int) -> Data? { keys[index % keys.count].map { $0 + Data(String(index).utf8) } }
        func value(_ index: Int) -> Data { Data((0..<valueSizes[index % valueSizes.count]).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }) }
        let count = 60
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: configuration), logger: logger)
        for index in 0..<count {
            try producer.enqueue(
                KafkaProducerMessage(topic: topic, key: key(index), value: value(index), headers: [KafkaHeader(key: "index", string: String(index))]))
        }
        try await producer.flush()
        await producer.close()

        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                common: configuration, groupID: TestEnvironment.uniqueName("group"), topics: [topic], readsHeaders: false),
            logger: logger)
        let messages = try await collect(consumer, count: count)
        await consumer.close()

        #expect(messages.map(\.offset) == (0..<Int64(count)).map { $0 })
        for (index, message) in messages.enumerated() {
            #expect(message.key == key(index), "key of record \(index)")
            #expect(message.value == value(index), "value of record \(index)")
            #expect(Array(message.value) == Array(value(index)), "value of record \(index), read from its start index")
            #expect(message.headers.isEmpty, "headers are not read")
        }
    }

    @Test("two consumers in one group split the partitions and together read every message once")
    func groupSplit() async throws {
        let topic = TestEnvironment.uniqueName("split")
        let configuration = try await TestEnvironment.kafka(topics: [topic], partitions: 4)
        let group = TestEnvironment.uniqueName("group")
        let consumerConfiguration = KafkaConsumerConfiguration(common: configuration, groupID: group, topics: [topic])
        let first = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        let second = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        #expect(
            try await eventually(timeout: .seconds(120)) {
                first.assignment.count + second.assignment.count == 4 && !first.assignment.isEmpty && !second.assignment.isEmpty
            })
        #expect(first.assignment.isDisjoint(with: second.assignment))

        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: configuration), logger: logger)
        for index in 0..<200 {
            try producer.enqueue(KafkaProducerMessage(topic: topic, key: "k\(index)", value: Data("\(index)".utf8)))
        }
        try await producer.flush()
        await producer.close()

        let counter = MessageCounter()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for consumer in [first, second] {
                tasks.addTask {
                    for await event in consumer.events {
                        switch event {
                        case .message(let message): await counter.add(message, from: ObjectIdentifier(consumer))
                        case .revoked(let partitions): await counter.revoked(partitions, from: ObjectIdentifier(consumer))
                        case .assigned: break
                        }
                    }
                }
            }
            #expect(try await eventually(timeout: .seconds(120)) { await counter.distinct == 200 })
            await counter.closing()
            await first.close()
            await second.close()
            try await tasks.waitForAll()
        }
        // Nothing here commits, so a rebalance after reading began (a session timeout on a loaded
        // machine) legitimately hands a partition's records to its new owner again: at least once.
        // A record read twice from a partition that never moved is a bug.
        let duplicates = await counter.duplicatesOfUnmovedPartitions
        #expect(await counter.distinct == 200, "every record delivered")
        #expect(duplicates.isEmpty, "records read twice although their partition never moved: \(duplicates)")
        #expect(await counter.consumersThatReceived == 2)
    }

    @Test("a new consumer in the group resumes at the committed offset")
    func committedOffsetResume() async throws {
        let topic = TestEnvironment.uniqueName("resume")
        let configuration = try await TestEnvironment.kafka(topics: [topic], partitions: 1)
        let group = TestEnvironment.uniqueName("group")
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: configuration), logger: logger)
        for index in 0..<10 { try producer.enqueue(KafkaProducerMessage(topic: topic, key: "k", value: Data("\(index)".utf8))) }
        try await producer.flush()
        await producer.close()

        let consumerConfiguration = KafkaConsumerConfiguration(common: configuration, groupID: group, topics: [topic])
        let first = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        let firstFour = try await collect(first, count: 4)
        #expect(firstFour.map { String(decoding: $0.value, as: UTF8.self) } == ["0", "1", "2", "3"])
        try await first.commit()
        await first.close()

        let second = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        let next = try await collect(second, count: 1)
        await second.close()
        #expect(String(decoding: next[0].value, as: UTF8.self) == "4")
    }

    @Test("cancelling a task that waits for records ends its iteration; the consumer stays usable")
    func cancellationEndsIteration() async throws {
        let topic = TestEnvironment.uniqueName("cancel")
        let configuration = try await TestEnvironment.kafka(topics: [topic], partitions: 1)
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(common: configuration, groupID: TestEnvironment.uniqueName("group"), topics: [topic]),
            logger: logger)
        let ended = Flag()
        let reader = Task {
            for await _ in consumer.events {}
            await ended.set()
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(await !ended.value, "nothing to read: the reader waits")
        reader.cancel()
        #expect(try await eventually(timeout: .seconds(120)) { await ended.value }, "the cancelled reader's loop ended")
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: configuration), logger: logger)
        _ = try await producer.send(KafkaProducerMessage(topic: topic, key: "k", value: Data("after".utf8)))
        await producer.close()
        let next = try await collect(consumer, count: 1)
        #expect(String(decoding: next[0].value, as: UTF8.self) == "after")
        await consumer.close()
    }

    @Test("creating an existing topic is not an error, and the admin reports partition counts")
    func adminIsIdempotent() async throws {
        let topic = TestEnvironment.uniqueName("admin")
        let configuration = KafkaConfiguration(bootstrapServers: try TestEnvironment.brokers())
        let admin = try KafkaAdmin(configuration: configuration, logger: logger)
        #expect(try await admin.createTopics([KafkaNewTopic(name: topic, partitions: 6)]) == [topic])
        #expect(try await admin.createTopics([KafkaNewTopic(name: topic, partitions: 6)]) == [])
        #expect(try await admin.partitionCounts()[topic] == 6)
        try await admin.deleteTopics([topic])
    }
}

actor Flag {
    private(set) var value = false
    func set() { value = true }
}

actor MessageCounter {
    private var values: [String] = []
    private var partitionOfValue: [String: KafkaTopicPartition] = [:]
    private var receivers: Set<ObjectIdentifier> = []
    /// Partitions revoked from a consumer after it had read records (the revocations of the
    /// group's first rebalance come before any record and do not count).
    private var movedPartitions: Set<KafkaTopicPartition> = []

    func add(_ message: KafkaMessage, from consumer: ObjectIdentifier) {
        let value = String(decoding: message.value, as: UTF8.self)
        values.append(value)
        partitionOfValue[value] = message.topicPartition
        receivers.insert(consumer)
    }

    /// Set before the consumers close: leaving the group revokes everything, which moves nothing.
    private var isClosing = false

    func revoked(_ partitions: [KafkaTopicPartition], from consumer: ObjectIdentifier) {
        if receivers.contains(consumer) && !isClosing { movedPartitions.formUnion(partitions) }
    }

    func closing() { isClosing = true }

    var distinct: Int { partitionOfValue.count }
    var consumersThatReceived: Int { receivers.count }

    /// Values read more than once whose partition was never revoked after reading began.
    var duplicatesOfUnmovedPartitions: [String] {
        var counts: [String: Int] = [:]
        for value in values { counts[value, default: 0] += 1 }
        return counts.filter { $0.value > 1 && !movedPartitions.contains(partitionOfValue[$0.key]!) }.keys.sorted()
    }
}
