import Foundation
import Logging
import Synchronization

/// What a consumer delivers, in order: records, and changes of its partition assignment.
public enum KafkaConsumerEvent: Sendable {
    case message(KafkaMessage)
    /// These partitions now belong to this consumer (starting offsets already applied).
    case assigned([KafkaTopicPartition])
    /// These partitions were taken away; offsets stored for them were committed first (unless the
    /// assignment was lost, e.g. after a session timeout), and records of them not yet delivered
    /// were dropped (their new owner reads them again).
    case revoked([KafkaTopicPartition])
}

/// A consumer-group member with manual offset management.
///
/// A dedicated thread polls librdkafka (so the consumer keeps its group membership while the
/// caller is busy) and buffers records; when the buffer is full it pauses fetching but keeps
/// polling. Callers mark progress with `storeOffset` and persist it with `commit()`; stored
/// offsets are also committed when partitions are revoked and on `close()`.
public final class KafkaConsumer: Sendable {
    /// Chooses where reading starts on newly assigned partitions (e.g. offsets kept in a
    /// database); partitions it leaves out start at their committed offset.
    public typealias StartingOffsets = @Sendable ([KafkaTopicPartition]) -> [KafkaTopicPartition: Int64]

    private let client: RDKafkaClient
    private let state: LockedConsumerState
    private let poller: RDKafkaPollThread
    private let logger: Logger

    public init(configuration: KafkaConsumerConfiguration, logger: Logger, startingOffsets: StartingOffsets? = nil) throws(KafkaError) {
        let context = RDKafkaClientContext(logger: logger)
        let state = LockedConsumerState()
        let capacity = max(1, configuration.bufferCapacity)
        context.onRebalance = { handle, error, partitions in
            RDKafkaRebalance.handle(
                handle: handle, error: error, partitions: partitions, state: state, startingOffsets: startingOffsets, logger: logger)
        }
        let client = try RDKafkaClient(kind: .consumer, properties: configuration.librdkafkaProperties, context: context)
        try client.subscribe(configuration.topics)
        self.client = client
        self.state = state
        self.logger = logger
        let reader = try RDKafkaMessageReader(client: client, maximumBatch: 1000, readsHeaders: configuration.readsHeaders)
        poller = RDKafkaPollThread(name: "trainyard-kafka-consumer") {
            Self.pollOnce(client: client, state: state, reader: reader, capacity: capacity, logger: logger)
        }
    }

    /// The records and assignment changes, in order. Ends after `close()`, or for a task that is
    /// cancelled while it waits.
    public var events: KafkaConsumerEvents { KafkaConsumerEvents(state: state) }

    /// Partitions currently assigned to this consumer.
    public var assignment: Set<KafkaTopicPartition> { state.withLock { $0.assigned } }

    /// Marks everything before `nextOffset` on `partition` as done; `commit()` persists it.
    /// Ignored for partitions no longer assigned.
    public func storeOffset(_ partition: KafkaTopicPartition, nextOffset: Int64) {
        state.withLock { state in
            guard state.assigned.contains(partition) else { return }
            state.stored[partition] = nextOffset
        }
    }

    /// Commits the stored offsets that changed since the last commit.
    public func commit() async throws {
        let pending = state.withLock { $0.uncommitted(of: nil) }
        guard !pending.isEmpty else { return }
        let client = client
        if let failure = await RDKafkaBlocking.run({ client.commit(pending) }) { throw failure }
        state.withLock { state in for (partition, offset) in pending { state.committed[partition] = offset } }
    }

    /// Stops fetching from `partitions` (the consumer keeps polling and stays in the group).
    ///
    /// A pause lasts while the partition stays assigned: a partition revoked (or lost) and
    /// assigned again starts unpaused, as in the Java client. `pauseAll()` also covers partitions
    /// assigned later.
    public func pause(_ partitions: [KafkaTopicPartition]) {
        updatePauses { $0.userPaused.formUnion(partitions) }
    }

    /// Resumes fetching from `partitions`.
    public func resume(_ partitions: [KafkaTopicPartition]) {
        updatePauses { $0.userPaused.subtract(partitions) }
    }

    /// Stops fetching from every partition, those assigned later included, until `resumeAll()`.
    public func pauseAll() {
        updatePauses { $0.pausedAll = true }
    }

    /// Ends `pauseAll()` and resumes every partition not paused one by one with `pause(_:)`.
    public func resumeAll() {
        updatePauses { $0.pausedAll = false }
    }

    private func updatePauses(_ change: (inout ConsumerState) -> Void) {
        let (client, logger) = (client, logger)
        state.withLock { state in
            change(&state)
            // Under the lock, so requests to librdkafka are made in the order they were decided.
            let (pause, resume) = state.pauseChanges()
            client.setPaused(pause, paused: true, logger: logger)
            client.setPaused(resume, paused: false, logger: logger)
        }
    }

    /// Records not yet read on the assigned partitions (from the last fetch's high watermarks).
    public func lag() -> Int64 {
        client.lag(of: Array(assignment))
    }

    /// Commits stored offsets, leaves the group and ends `events`.
    public func close() async {
        await poller.stop()
        do { try await commit() } catch { logger.warning("final offset commit failed: \(error)") }
        let client = client
        if let error = await RDKafkaBlocking.run({ client.closeConsumer() }) { logger.warning("consumer close: \(error)") }
        let waiter = state.withLock { state in
            state.closed = true
            return state.takeWaiter()
        }
        waiter?.resume()
    }

    /// How long the caller may stay behind (buffer full) before fetching is paused.
    static let maximumStall: Duration = .seconds(1)

    /// One poll-thread iteration: wait up to 100 ms for a record, then take what else is ready.
    ///
    /// When the caller is behind (buffer full), the thread first waits for it to drain:
    /// librdkafka keeps prefetching within its own queue limits and heartbeats in the background.
    /// Only if the caller stays behind longer than `maximumStall` does the consumer pause fetching
    /// (which discards librdkafka's prefetched records) and go on polling, so rebalances are
    /// still served and `max.poll.interval.ms` is never exceeded.
    private static func pollOnce(client: RDKafkaClient, state: LockedConsumerState, reader: RDKafkaMessageReader, capacity: Int, logger: Logger) {
        let now = ContinuousClock.now
        let (waitForRoom, revocationsBefore) = state.withLock { state -> (Bool, Int) in
            let waitForRoom = state.shouldWaitForRoom(capacity: capacity, now: now, maximumStall: maximumStall)
            if waitForRoom { state.pollerWaiting = true }
            return (waitForRoom, state.revocations)
        }
        if waitForRoom {
            _ = state.drained.wait(timeout: .now() + .milliseconds(50))
            return
        }
        let read = reader.poll(timeoutMilliseconds: 100, logger: logger)
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            // A revoke inside this batch's polls: drop what was read from the revoked partitions.
            let rereads = state.append(&reader.batch, droppingRevoked: state.revocations != revocationsBefore, now: .now, logger: logger)
            client.seek(rereads, logger: logger)
            let waiter = read == 0 ? nil : state.takeWaiter()
            if state.updateInternalPause(capacity: capacity, now: now, maximumStall: maximumStall) {
                logger.debug("\(state.internallyPaused ? "pausing fetching: the caller is behind" : "resuming fetching: the caller caught up")")
                let (pause, resume) = state.pauseChanges()
                client.setPaused(pause, paused: true, logger: logger)
                client.setPaused(resume, paused: false, logger: logger)
            }
            return waiter
        }
        waiter?.resume()
    }
}

/// The async sequence of a consumer's events.
public struct KafkaConsumerEvents: AsyncSequence, Sendable {
    public typealias Element = KafkaConsumerEvent
    let state: LockedConsumerState

    public func makeAsyncIterator() -> Iterator { Iterator(state: state) }

    public struct Iterator: AsyncIteratorProtocol {
        let state: LockedConsumerState
        /// Events taken from the consumer and not returned yet, the next one last: each is moved
        /// out with `popLast()` rather than copied (no reference counting per record).
        @usableFromInline var pending: [KafkaConsumerEvent] = []

        /// Everything available now, up to `maximum` events (waiting only when nothing is); nil at the end.
        public mutating func nextBatch(maximum: Int, isolation actor: isolated (any Actor)? = #isolation) async -> [KafkaConsumerEvent]? {
            guard let first = await next(isolation: actor) else { return nil }
            var events = [first]
            while events.count < maximum {
                if let event = pending.popLast() {
                    events.append(event)
                    continue
                }
                refill()
                if pending.isEmpty { break }
            }
            return events
        }

        /// Trades the (empty) pending array for everything buffered; returns whether the consumer is closed.
        @discardableResult
        private mutating func refill() -> Bool {
            let (closed, wakePoller) = state.withLock { state in
                defer { state.pollerWaiting = false }
                state.drain(into: &pending)
                return (state.closed, state.pollerWaiting)
            }
            if wakePoller { state.drained.signal() }
            pending.reverse()
            return closed
        }

        public mutating func next() async -> KafkaConsumerEvent? {
            await next(isolation: nil)
        }

        /// Runs on the caller's executor: no executor hop per record. Inlinable, so taking an event
        /// already read is not an async call of its own.
        @inlinable
        public mutating func next(isolation actor: isolated (any Actor)?) async -> KafkaConsumerEvent? {
            if let event = pending.popLast() { return event }
            return await refillAndNext(isolation: actor)
        }

        /// `next(isolation:)` once `pending` is empty: takes what was read, or waits for it.
        @usableFromInline
        mutating func refillAndNext(isolation actor: isolated (any Actor)?) async -> KafkaConsumerEvent? {
            while true {
                if let event = pending.popLast() { return event }
                let closed = refill()
                if !pending.isEmpty { continue }
                // The sequence ends for a cancelled task (the consumer itself goes on).
                if closed || Task.isCancelled { return nil }
                let state = state
                await withTaskCancellationHandler {
                    await withCheckedContinuation(isolation: actor) { (continuation: CheckedContinuation<Void, Never>) in
                        // Checked under the lock that `onCancel` takes, so a cancel is never missed.
                        let ready = state.withLock { state in
                            if !state.buffer.isEmpty || state.closed || Task.isCancelled { return true }
                            state.waiter = continuation
                            return false
                        }
                        if ready { continuation.resume() }
                    }
                } onCancel: {
                    state.withLock { $0.takeWaiter() }?.resume()
                }
            }
        }
    }
}
