import Foundation
import Synchronization
import TrainyardKafka

/// What another service reads from one topic, from its beginning, while a test runs: every
/// message (key, value, partition, headers), in the order the reader got them.
public final class TopicRecording: Sendable {
    private let consumer: KafkaConsumer
    private let received = Mutex<[KafkaMessage]>([])
    private let reading = Mutex<Task<Void, Never>?>(nil)

    /// Starts reading `topic` in its own consumer group.
    public init(topic: String, kafka: KafkaConfiguration) throws {
        consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(common: kafka, groupID: TestEnvironment.uniqueName("reader"), topics: [topic]),
            logger: TestEnvironment.logger("topic-reader"))
        let task = Task { [self] in
            for await event in consumer.events {
                guard case .message(let message) = event else { continue }
                self.received.withLock { $0.append(message) }
            }
        }
        reading.withLock { $0 = task }
    }

    /// The messages so far, in order.
    public var records: [KafkaMessage] { received.withLock { $0 } }

    /// The keys and values so far, in order.
    public var messages: [(key: String, value: Data)] { records.map { (String(decoding: $0.key ?? Data(), as: UTF8.self), $0.value) } }

    /// The values so far per key, each key's in order.
    public var valuesByKey: [String: [Data]] { Dictionary(grouping: messages, by: \.key).mapValues { $0.map(\.value) } }

    /// Closes the consumer and waits for the reader to end.
    public func stop() async {
        await consumer.close()
        await reading.withLock { $0 }?.value
    }
}
