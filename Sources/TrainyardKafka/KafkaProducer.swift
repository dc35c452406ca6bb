import Foundation
import Logging
import Synchronization

/// Publishes records to Kafka.
///
/// `send` returns after the broker acknowledged the record (its delivery report) or throws a
/// `KafkaError`; `enqueue` + `flush` is the fast path for bulk publishing. Idempotence is on by
/// default. A dedicated thread serves librdkafka's delivery reports; call `close()` when done.
///
/// When the broker stops accepting the producer's identity (e.g. PRODUCER_FENCED after a broker
/// pause longer than the message timeout), the records concerned fail with that error and the
/// producer replaces its librdkafka handle, so that the caller's retry goes through; it logs
/// each replacement and counts it in `replacements`.
public final class KafkaProducer: Sendable {
    private let handle: Mutex<ProducerHandle>
    private let outcomes: ProducerOutcomes
    private let configuration: KafkaProducerConfiguration
    private let logger: Logger

    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws(KafkaError) {
        let outcomes = ProducerOutcomes()
        handle = Mutex(try ProducerHandle(configuration: configuration, outcomes: outcomes, logger: logger))
        self.outcomes = outcomes
        self.configuration = configuration
        self.logger = logger
    }

    /// How many times the librdkafka handle was replaced because the broker stopped accepting it.
    public var replacements: Int { outcomes.replacements.load(ordering: .relaxed) }

    /// The handle to produce with, replaced first when a delivery showed that it is unusable.
    private var client: RDKafkaClient {
        handle.withLock { current in
            if outcomes.handleInvalidated.exchange(false, ordering: .acquiringAndReleasing) {
                do {
                    let retired = current
                    current = try ProducerHandle(configuration: configuration, outcomes: outcomes, logger: logger)
                    outcomes.replacements.add(1, ordering: .relaxed)
                    logger.warning("Kafka producer handle replaced: the broker no longer accepted the old one (see the delivery errors)")
                    Task.detached { await retired.retire() }
                } catch {
                    logger.error("Kafka producer handle could not be replaced: \(error)")
                }
            }
            return current.client
        }
    }

    /// Produces `message` and waits for its delivery report.
    ///
    /// While librdkafka's local queue is full, waits (suspended, not blocking a thread) for the
    /// poll thread to serve delivery reports, then tries again.
    public func send(_ message: KafkaProducerMessage) async throws -> KafkaDeliveryReport {
        while true {
            let outcome: SendOutcome = await withUnsafeContinuation { continuation in
                let waiter = Unmanaged.passRetained(DeliveryWaiter(continuation))
                if let error = client.produce(message, opaque: waiter.toOpaque(), blockWhileFull: false) {
                    outcomes.note(error)
                    waiter.release()
                    continuation.resume(returning: error.isQueueFull ? .queueFull : .delivered(.failure(error)))
                }
            }
            switch outcome {
            case .delivered(let result): return try result.get()
            case .queueFull: await outcomes.waitForRoom()
            }
        }
    }

    /// Hands `message` to librdkafka without waiting for its delivery; `flush()` reports failed
    /// deliveries. Returns at once unless librdkafka's local queue (100,000 records by default) is
    /// full: then it blocks the calling thread until the poll thread has freed room.
    public func enqueue(_ message: KafkaProducerMessage) throws(KafkaError) {
        if let error = client.produce(message, opaque: nil, blockWhileFull: true) {
            outcomes.note(error)
            throw error
        }
    }

    /// Waits until every enqueued record is delivered or failed.
    /// - Throws: the last delivery error, when any `enqueue`d record failed since the last flush.
    public func flush(timeout: Duration = .seconds(30)) async throws {
        let client = client
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        if let error = await RDKafkaBlocking.run({ client.flush(timeoutMilliseconds: milliseconds) }) { throw error }
        if let failure = outcomes.takeFailure() { throw failure }
    }

    /// Flushes, then stops the delivery-report thread. The producer cannot be used afterwards.
    public func close(timeout: Duration = .seconds(30)) async {
        do { try await flush(timeout: timeout) } catch { logger.error("Kafka producer closed with undelivered records: \(error)") }
        await handle.withLock { $0 }.poller.stop()
        outcomes.roomMayHaveFreed()
    }
}

/// One librdkafka producer handle and the thread that serves its delivery reports.
private struct ProducerHandle: Sendable {
    let client: RDKafkaClient
    let poller: RDKafkaPollThread

    init(configuration: KafkaProducerConfiguration, outcomes: ProducerOutcomes, logger: Logger) throws(KafkaError) {
        let context = RDKafkaClientContext(logger: logger)
        context.onDelivery = { delivery in outcomes.delivered(delivery) }
        let client = try RDKafkaClient(kind: .producer, properties: configuration.librdkafkaProperties, context: context)
        poller = RDKafkaPollThread(name: "trainyard-kafka-producer") {
            client.poll(timeoutMilliseconds: 100)
            // Each served batch of reports freed room in librdkafka's queue.
            outcomes.roomMayHaveFreed()
        }
        self.client = client
    }

    /// Lets the records still queued fail or go out (briefly), then stops serving reports.
    func retire() async {
        let client = client
        _ = await RDKafkaBlocking.run { client.flush(timeoutMilliseconds: 5000) }
        await poller.stop()
    }
}

/// What became of one attempt to produce a record for `send`.
private enum SendOutcome: Sendable {
    case delivered(Result<KafkaDeliveryReport, KafkaError>)
    /// Not queued: librdkafka's local queue was full.
    case queueFull
}

/// Delivery outcomes of records produced without a waiter, and the senders waiting for room.
private final class ProducerOutcomes: Sendable {
    private let lastFailure = Mutex<KafkaError?>(nil)
    private let roomWaiters = Mutex<[UnsafeContinuation<Void, Never>]>([])
    /// Set when a failure showed that the current handle is unusable (`KafkaError.invalidatesProducer`).
    let handleInvalidated = Atomic<Bool>(false)
    let replacements = Atomic<Int>(0)

    /// On the poll thread, for each delivery report.
    func delivered(_ delivery: RDKafkaDelivery) {
        if delivery.succeeded {
            // An enqueued record (no waiter) that arrived: nothing to report or build.
            if let opaque = delivery.opaque { Unmanaged<DeliveryWaiter>.fromOpaque(opaque).takeRetainedValue().complete(delivery.result) }
            return
        }
        let result = delivery.result
        if case .failure(let error) = result {
            note(error)
            if delivery.opaque == nil { lastFailure.withLock { $0 = error } }
        }
        if let opaque = delivery.opaque { Unmanaged<DeliveryWaiter>.fromOpaque(opaque).takeRetainedValue().complete(result) }
    }

    /// Remembers a failure that makes the handle unusable, for the next produce to replace it.
    func note(_ error: KafkaError) {
        if error.invalidatesProducer { handleInvalidated.store(true, ordering: .releasing) }
    }

    func takeFailure() -> KafkaError? {
        lastFailure.withLock { failure in
            defer { failure = nil }
            return failure
        }
    }

    /// Suspends until the poll thread's next iteration (at most its 100 ms poll timeout).
    func waitForRoom() async {
        await withUnsafeContinuation { continuation in roomWaiters.withLock { $0.append(continuation) } }
    }

    func roomMayHaveFreed() {
        let waiters = roomWaiters.withLock { waiters in
            defer { waiters = [] }
            return waiters
        }
        waiters.forEach { $0.resume() }
    }
}

/// The continuation of one `send`, carried through librdkafka as the record's opaque pointer.
private final class DeliveryWaiter: Sendable {
    private let continuation: UnsafeContinuation<SendOutcome, Never>

    init(_ continuation: UnsafeContinuation<SendOutcome, Never>) { self.continuation = continuation }

    func complete(_ result: Result<KafkaDeliveryReport, KafkaError>) { continuation.resume(returning: .delivered(result)) }
}
