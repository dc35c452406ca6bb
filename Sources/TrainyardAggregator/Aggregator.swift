import Foundation
import Logging
import TrainyardCore
import TrainyardKafka
import TrainyardObservability
import TrainyardStore

/// Settings of the status aggregator.
public struct AggregatorConfiguration: Sendable {
    public var kafka: KafkaConfiguration
    public var topics: TopicNames
    public var groupID: String
    public var sessionTimeoutMilliseconds: Int
    /// Most messages applied in one SQLite transaction.
    public var batchSize: Int

    public init(
        kafka: KafkaConfiguration = KafkaConfiguration(), topics: TopicNames = TopicNames(), groupID: String = "trainyard-aggregator",
        sessionTimeoutMilliseconds: Int = 6000, batchSize: Int = 1000
    ) {
        self.kafka = kafka
        self.topics = topics
        self.groupID = groupID
        self.sessionTimeoutMilliseconds = sessionTimeoutMilliseconds
        self.batchSize = batchSize
    }
}

/// Turns the requests and events topics into job state in the store.
///
/// Reading starts at the offsets saved in the store (not Kafka's committed offsets), and each
/// batch is written together with its offsets in one transaction: exactly-once application
/// across crashes. Kafka offsets are also committed, only so that lag is visible to tools.
/// The same transaction queues the jobs' new statuses for `statusPublisher`, woken after each batch.
public final class Aggregator: Sendable {
    private let configuration: AggregatorConfiguration
    private let store: JobStore
    private let consumer: KafkaConsumer
    private let statusPublisher: StatusPublisher?
    private let logger: Logger
    private let metrics: AggregatorMetrics

    public init(
        configuration: AggregatorConfiguration, store: JobStore, statusPublisher: StatusPublisher? = nil, metrics registry: MetricsRegistry,
        logger: Logger
    ) throws {
        self.configuration = configuration
        self.store = store
        self.statusPublisher = statusPublisher
        self.logger = logger
        metrics = AggregatorMetrics(registry: registry)
        let saved = try store.consumedOffsets()
        consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                common: configuration.kafka, groupID: configuration.groupID,
                topics: [configuration.topics.requests, configuration.topics.events],
                sessionTimeoutMilliseconds: configuration.sessionTimeoutMilliseconds,
                // Never jump silently: a saved offset past the end means the topics were recreated.
                offsetReset: .error,
                // The ingest reads only keys and values: librdkafka need not parse headers.
                readsHeaders: false),
            logger: logger,
            startingOffsets: { partitions in
                // Partitions the store has never seen start at the beginning.
                let current = (try? store.consumedOffsets()) ?? saved
                return Dictionary(uniqueKeysWithValues: partitions.map { ($0, current[$0.topic]?[$0.partition] ?? -2) })
            })
        let consumer = consumer
        metrics.collect(from: store, lag: { consumer.lag() }, registry: registry)
    }

    /// True once the aggregator holds partitions and its store answers.
    public var isReady: Bool { !consumer.assignment.isEmpty && (try? store.consumedOffsets()) != nil }

    /// Applies messages until `shutdown()`.
    ///
    /// Two stages on two threads: while the store writes one batch, the next is read and
    /// converted (decoded, its stored JSON encoded). Batches are still written one at a time, in
    /// order, and a batch's offsets are stored for Kafka only after its transaction.
    public func run() async throws {
        logger.info("aggregator started")
        var events = consumer.events.makeAsyncIterator()
        var writing: Task<Void, any Error>?
        while let batch = await events.nextBatch(maximum: configuration.batchSize) {
            var messages: [KafkaMessage] = []
            for event in batch {
                switch event {
                case .message(let message): messages.append(message)
                case .assigned, .revoked: break
                }
            }
            guard !messages.isEmpty else { continue }
            let converted = messages.map { IngestConverter.convert($0, topics: configuration.topics) }
            try await writing?.value
            writing = Task { try await write(converted, of: messages) }
        }
        try await writing?.value
        logger.info("aggregator stopped")
    }

    /// Applies one converted batch, then stores its partitions' offsets for Kafka.
    private func write(_ converted: [IngestMessage], of messages: [KafkaMessage]) async throws {
        let transitions = try await store.perform { try $0.apply(converted) }
        if !transitions.isEmpty { statusPublisher?.wake() }
        metrics.record(applied: converted, transitions: transitions)
        // Each partition's messages come in order: its last one in the batch says where it stands.
        for (index, message) in messages.enumerated()
        where index == messages.count - 1 || messages[index + 1].partition != message.partition || messages[index + 1].topic != message.topic {
            consumer.storeOffset(message.topicPartition, nextOffset: message.offset + 1)
        }
    }

    /// Commits Kafka offsets (for lag tools) periodically until cancelled.
    public func commitPeriodically(every interval: Duration = .seconds(2)) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            try? await consumer.commit()
        }
    }

    /// Records not yet read by the aggregator.
    public var lag: Int64 { consumer.lag() }

    /// Stops reading and leaves the group; the store already holds everything applied.
    public func shutdown() async {
        await consumer.close()
    }
}
