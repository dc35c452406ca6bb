import Foundation
import Logging
import TrainyardCore
import TrainyardKafka
import TrainyardObservability
import TrainyardStore

/// Publishes the store's status outbox to the status topic, keyed by job id.
///
/// `JobStore.apply` writes every status change to the outbox in the transaction that made it, so
/// no change is lost whichever process dies when. The publisher sends the pending rows in order,
/// waits until the broker acknowledged all of them, and only then deletes them: at-least-once
/// delivery. A crash in between sends them again, which a compacted, latest-wins topic absorbs.
public final class StatusPublisher: Sendable {
    private let store: JobStore
    private let producer: KafkaProducer
    private let topic: String
    private let batchSize: Int
    private let idleInterval: Duration
    private let logger: Logger
    private let published: MetricFamily<Counter>
    private let wakeups: AsyncStream<Void>
    private let wakeup: AsyncStream<Void>.Continuation

    /// - Parameters:
    ///   - batchSize: most rows sent before waiting for their delivery and deleting them. Each
    ///     round costs a linger, a broker round trip and two turns of the store's queue behind
    ///     the ingest, so a round should cover what an ingest batch (1,000 messages) adds.
    ///   - idleInterval: how often the outbox is looked at when nothing calls `wake()`.
    public init(
        store: JobStore, producer: KafkaProducer, topic: String, batchSize: Int = 5000, idleInterval: Duration = .milliseconds(500),
        metrics registry: MetricsRegistry, logger: Logger
    ) {
        self.store = store
        self.producer = producer
        self.topic = topic
        self.batchSize = max(1, batchSize)
        self.idleInterval = idleInterval
        self.logger = logger
        published = registry.counter("trainyard_status_published_total", help: "Status messages delivered to the status topic.")
        published.labels().increment(by: 0)  // exported as 0 before the first delivery, so rates start right
        let pending = registry.gauge("trainyard_status_outbox_pending", help: "Status messages in the store's outbox, not yet delivered.")
        registry.addCollector {
            if let count = try? store.pendingStatusCount() { pending.labels().set(Double(count)) }
        }
        (wakeups, wakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks the publisher to look at the outbox now (the aggregator calls it after each batch).
    public func wake() { wakeup.yield() }

    /// Publishes until cancelled: at once, whenever woken, and every `idleInterval`. Call it once.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [wakeup, idleInterval] in
                while (try? await Task.sleep(for: idleInterval)) != nil { wakeup.yield() }
            }
            wakeup.yield()
            for await _ in wakeups {
                do {
                    while try await publishPending() == batchSize {}
                } catch {
                    // The rows stay in the outbox; the next wake-up sends them again.
                    logger.warning("status messages not published yet: \(error)")
                }
            }
            group.cancelAll()
        }
    }

    /// Publishes until the outbox is empty or publishing fails (before a clean shutdown).
    public func drain() async {
        do {
            while try await publishPending() > 0 {}
        } catch {
            logger.warning("status messages left in the outbox for the next start: \(error)")
        }
    }

    /// Sends the oldest pending rows (at most `batchSize`) and deletes them once all are delivered.
    /// - Returns: how many were published.
    @discardableResult
    public func publishPending() async throws -> Int {
        let pending = try await store.perform { [batchSize] in try $0.pendingStatus(limit: batchSize) }
        guard let last = pending.last else { return 0 }
        for entry in pending {
            try producer.enqueue(KafkaProducerMessage(topic: topic, key: entry.jobID.rawValue, value: entry.payload))
        }
        try await producer.flush()
        try await store.perform { try $0.deleteStatus(through: last.sequence) }
        published.labels().increment(by: Double(pending.count))
        return pending.count
    }
}
