import CRdkafka
import Foundation
import Logging
import Synchronization

/// What a consumer delivers, in order: records, and changes of its partition assignment.
public enum KafkaConsumerEvent: Sendable {
    case message(KafkaMessage)
    /// These partitions now belong to this consumer (starting offsets already applied).
    case assigned([KafkaTopicPartition])
    /// These partitions were taken away; offsets stored for them were committed first, and
    /// records of them not yet delivered were dropped (their new owner reads them again).
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
    private let capacity: Int

    public init(configuration: KafkaConsumerConfiguration, logger: Logger, startingOffsets: StartingOffsets? = nil) throws(KafkaError) {
        let context = RDKafkaClientContext(logger: logger)
        let state = LockedConsumerState()
        let capacity = max(1, configuration.bufferCapacity)
        let client = try RDKafkaClient(kind: .consumer, properties: configuration.librdkafkaProperties, context: context)
        context.onRebalance = { handle, error, partitions in
            Rebalance.handle(handle: handle, error: error, partitions: partitions, state: state, startingOffsets: startingOffsets, logger: logger)
        }
        rd_kafka_poll_set_consumer(client.handle)
        let subscribeError = RDKafkaTopicPartitionList.with(
            configuration.topics.map { (KafkaTopicPartition(topic: $0, partition: -1), crdkafka_offset_invalid) }
        ) {
            rd_kafka_subscribe(client.handle, $0)
        }
        guard subscribeError == RD_KAFKA_RESP_ERR_NO_ERROR else { throw RDKafkaError.make(subscribeError) }
        self.client = client
        self.state = state
        self.logger = logger
        self.capacity = capacity
        let reader = RDKafkaMessageReader()
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
        let pending: [(KafkaTopicPartition, Int64)] = state.withLock { state in
            state.stored.filter { state.committed[$0.key] != $0.value }.map { ($0.key, $0.value) }
        }
        guard !pending.isEmpty else { return }
        let client = client
        let failure: KafkaError? = await RDKafkaBlocking.run {
            RDKafkaTopicPartitionList.with(pending) { list in
                let error = rd_kafka_commit(client.handle, list, 0)
                if error != RD_KAFKA_RESP_ERR_NO_ERROR { return RDKafkaError.make(error) }
                return RDKafkaTopicPartitionList.elementErrors(list).first
            }
        }
        if let failure { throw failure }
        state.withLock { state in for (partition, offset) in pending { state.committed[partition] = offset } }
    }

    /// Stops fetching from `partitions` (the consumer keeps polling and stays in the group).
    public func pause(_ partitions: [KafkaTopicPartition]) {
        let toPause = state.withLock { state in
            state.userPaused.formUnion(partitions)
            return state.internallyPaused ? [] : partitions.filter { state.assigned.contains($0) }
        }
        Rebalance.setPaused(client.handle, toPause, paused: true, logger: logger)
    }

    /// Resumes fetching from `partitions`.
    public func resume(_ partitions: [KafkaTopicPartition]) {
        let toResume = state.withLock { state in
            state.userPaused.subtract(partitions)
            return state.internallyPaused ? [] : partitions.filter { state.assigned.contains($0) }
        }
        Rebalance.setPaused(client.handle, toResume, paused: false, logger: logger)
    }

    /// Records not yet read on the assigned partitions (from the last fetch's high watermarks).
    public func lag() -> Int64 {
        let assigned = Array(assignment)
        guard !assigned.isEmpty else { return 0 }
        return RDKafkaTopicPartitionList.with(assigned.map { ($0, crdkafka_offset_invalid) }) { list in
            guard rd_kafka_position(client.handle, list) == RD_KAFKA_RESP_ERR_NO_ERROR else { return 0 }
            return RDKafkaTopicPartitionList.read(list).reduce(Int64(0)) { total, entry in
                var low: Int64 = 0
                var high: Int64 = 0
                rd_kafka_get_watermark_offsets(client.handle, entry.0.topic, entry.0.partition, &low, &high)
                let position = entry.1 >= 0 ? entry.1 : low
                return total + max(0, high - position)
            }
        }
    }

    /// Commits stored offsets, leaves the group and ends `events`.
    public func close() async {
        await poller.stop()
        do { try await commit() } catch { logger.warning("final offset commit failed: \(error)") }
        let client = client
        let error = await RDKafkaBlocking.run { rd_kafka_consumer_close(client.handle) }
        if error != RD_KAFKA_RESP_ERR_NO_ERROR { logger.warning("consumer close: \(RDKafkaError.make(error))") }
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
        let (stalled, paused, revocationsBefore) = state.withLock { state -> (Bool, Bool, Int) in
            if state.bufferedCount < capacity { state.fullSince = nil } else if state.fullSince == nil { state.fullSince = now }
            let stalled = state.fullSince.map { now - $0 < maximumStall } ?? false
            if stalled && !state.internallyPaused { state.pollerWaiting = true }
            return (stalled, state.internallyPaused, state.revocations)
        }
        if stalled && !paused {
            _ = state.drained.wait(timeout: .now() + .milliseconds(50))
            return
        }
        var batch: [KafkaConsumerEvent] = []
        batch.reserveCapacity(64)
        var timeout: Int32 = 100
        while batch.count < 1000, let raw = rd_kafka_consumer_poll(client.handle, timeout) {
            timeout = 0
            defer { rd_kafka_message_destroy(raw) }
            let error = raw.pointee.err
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                if error == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET {
                    // Only with `offsetReset: .error`: the position is outside the partition.
                    let partition = raw.pointee.rkt.map { "\(String(cString: rd_kafka_topic_name($0)))[\(raw.pointee.partition)]" } ?? "?"
                    logger.critical(
                        "\(partition): the position to resume at is outside the partition (\(RDKafkaError.make(error).message)); nothing is read from it until an operator acts (were the topics recreated?)"
                    )
                } else if error != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                    logger.warning("consume error: \(RDKafkaError.make(error))")
                }
                continue
            }
            batch.append(.message(reader.read(raw)))
        }
        let (waiter, pauseChange, assigned) = state.withLock { state -> (CheckedContinuation<Void, Never>?, Bool?, [KafkaTopicPartition]) in
            // A revoke inside this batch's polls: drop what was read from the revoked partitions.
            state.append(batch, droppingRevoked: state.revocations != revocationsBefore)
            let waiter = batch.isEmpty ? nil : state.takeWaiter()
            if !state.internallyPaused, state.bufferedCount >= capacity, let since = state.fullSince, now - since >= maximumStall {
                state.internallyPaused = true
                return (waiter, true, Array(state.assigned))
            }
            if state.internallyPaused, state.bufferedCount <= capacity / 2 {
                state.internallyPaused = false
                return (waiter, false, Array(state.assigned.subtracting(state.userPaused)))
            }
            return (waiter, nil, [])
        }
        waiter?.resume()
        if let pause = pauseChange {
            logger.debug("\(pause ? "pausing" : "resuming") fetching: \(pause ? "the caller is behind" : "the caller caught up")")
            Rebalance.setPaused(client.handle, assigned, paused: pause, logger: logger)
        }
    }
}

/// The consumer's shared state behind a lock, shared by the poll thread, the rebalance callback
/// and the caller.
final class LockedConsumerState: Sendable {
    private let mutex = Mutex(ConsumerState())
    /// Signalled when the caller drains the buffer while the poll thread waits for room.
    let drained = DispatchSemaphore(value: 0)

    func withLock<Result: Sendable>(_ body: (inout ConsumerState) -> Result) -> Result {
        mutex.withLock { body(&$0) }
    }
}

/// The consumer's mutable state.
struct ConsumerState {
    var buffer: [KafkaConsumerEvent] = []
    var bufferedCount = 0
    var waiter: CheckedContinuation<Void, Never>?
    var assigned: Set<KafkaTopicPartition> = []
    var userPaused: Set<KafkaTopicPartition> = []
    var internallyPaused = false
    var stored: [KafkaTopicPartition: Int64] = [:]
    var committed: [KafkaTopicPartition: Int64] = [:]
    var closed = false
    /// Counts revocations, so a poll batch knows whether one happened while it was read.
    var revocations = 0
    /// Since when the buffer has been full.
    var fullSince: ContinuousClock.Instant?
    /// The poll thread waits on `drained`.
    var pollerWaiting = false

    mutating func append(_ events: [KafkaConsumerEvent], droppingRevoked: Bool) {
        guard droppingRevoked else {
            buffer.append(contentsOf: events)
            bufferedCount += events.count
            return
        }
        for event in events {
            if case .message(let message) = event, !assigned.contains(message.topicPartition) { continue }
            buffer.append(event)
            bufferedCount += 1
        }
    }

    mutating func takeWaiter() -> CheckedContinuation<Void, Never>? {
        defer { waiter = nil }
        return waiter
    }

    /// Everything buffered, in order; the buffer is left empty.
    mutating func drain() -> [KafkaConsumerEvent] {
        defer {
            buffer = []
            bufferedCount = 0
        }
        return buffer
    }
}

/// The async sequence of a consumer's events.
public struct KafkaConsumerEvents: AsyncSequence, Sendable {
    public typealias Element = KafkaConsumerEvent
    let state: LockedConsumerState

    public func makeAsyncIterator() -> Iterator { Iterator(state: state) }

    public struct Iterator: AsyncIteratorProtocol {
        let state: LockedConsumerState
        var batch: [KafkaConsumerEvent] = []
        var index = 0

        /// Everything available now, up to `maximum` events (waiting only when nothing is); nil at the end.
        public mutating func nextBatch(maximum: Int, isolation actor: isolated (any Actor)? = #isolation) async -> [KafkaConsumerEvent]? {
            guard let first = await next(isolation: actor) else { return nil }
            var events = [first]
            while events.count < maximum {
                if index < batch.count {
                    events.append(batch[index])
                    index += 1
                    continue
                }
                let (more, wakePoller) = state.withLock { state in
                    defer { state.pollerWaiting = false }
                    return (state.drain(), state.pollerWaiting)
                }
                if wakePoller { state.drained.signal() }
                if more.isEmpty { break }
                batch = more
                index = 0
            }
            return events
        }

        public mutating func next() async -> KafkaConsumerEvent? {
            await next(isolation: nil)
        }

        /// Runs on the caller's executor: no executor hop per record.
        public mutating func next(isolation actor: isolated (any Actor)?) async -> KafkaConsumerEvent? {
            while true {
                if index < batch.count {
                    defer { index += 1 }
                    return batch[index]
                }
                let (events, closed, wakePoller) = state.withLock { state in
                    defer { state.pollerWaiting = false }
                    return (state.drain(), state.closed, state.pollerWaiting)
                }
                if wakePoller { state.drained.signal() }
                batch = events
                index = 0
                if !batch.isEmpty { continue }
                // The sequence ends for a cancelled task (the consumer itself goes on).
                if closed || Task.isCancelled { return nil }
                let state = state
                await withTaskCancellationHandler {
                    await withCheckedContinuation(isolation: actor) { (continuation: CheckedContinuation<Void, Never>) in
                        // Checked under the lock that `onCancel` takes, so a cancel is never missed.
                        let ready = state.withLock { state in
                            if state.bufferedCount > 0 || state.closed || Task.isCancelled { return true }
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
