import Foundation
import Logging
import Synchronization

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

/// Everything a consumer knows that changes: the buffered events, the assignment, which
/// partitions are paused and why, and the offsets stored and committed.
struct ConsumerState {
    /// Events read by the poll thread and not yet taken by the caller.
    var buffer: [KafkaConsumerEvent] = []
    /// The caller waiting for events, if any.
    var waiter: CheckedContinuation<Void, Never>?
    var assigned: Set<KafkaTopicPartition> = []
    /// Partitions the caller paused one by one (forgotten when they are revoked).
    var userPaused: Set<KafkaTopicPartition> = []
    /// The caller paused every partition, present and future.
    var pausedAll = false
    /// The caller is behind: fetching is paused until the buffer drains to half.
    var internallyPaused = false
    /// The assigned partitions librdkafka was last told to pause.
    private(set) var fetchPaused: Set<KafkaTopicPartition> = []
    var stored: [KafkaTopicPartition: Int64] = [:]
    var committed: [KafkaTopicPartition: Int64] = [:]
    var closed = false
    /// Counts revocations, so a poll batch knows whether one happened while it was read.
    private(set) var revocations = 0
    /// Since when the buffer has been full.
    private(set) var fullSince: ContinuousClock.Instant?
    /// The poll thread waits on `drained`.
    var pollerWaiting = false
    /// Withholds records past a gap in a partition's offsets until a re-read confirms it.
    private(set) var continuity = KafkaOffsetContinuity()

    func shouldPause(_ partition: KafkaTopicPartition) -> Bool {
        internallyPaused || pausedAll || userPaused.contains(partition)
    }

    /// Before a poll at `now`: notes since when the buffer (of `capacity` events) has been full,
    /// and answers whether the poll thread should wait for the caller to drain it rather than
    /// poll: while the caller has been behind for less than `maximumStall` and fetching is not
    /// already paused.
    mutating func shouldWaitForRoom(capacity: Int, now: ContinuousClock.Instant, maximumStall: Duration) -> Bool {
        if buffer.count < capacity { fullSince = nil } else if fullSince == nil { fullSince = now }
        return !internallyPaused && fullSince.map { now - $0 < maximumStall } ?? false
    }

    /// After a poll begun at `now`: pauses fetching once the buffer has been full for
    /// `maximumStall`, resumes it once the buffer has drained to half. Returns whether
    /// `internallyPaused` changed (then `pauseChanges()` tells librdkafka what to change).
    mutating func updateInternalPause(capacity: Int, now: ContinuousClock.Instant, maximumStall: Duration) -> Bool {
        let behind = buffer.count >= capacity && fullSince.map { now - $0 >= maximumStall } ?? false
        let caughtUp = buffer.count <= capacity / 2
        guard !internallyPaused && behind || internallyPaused && caughtUp else { return false }
        internallyPaused.toggle()
        return true
    }

    /// The assigned partitions whose pause librdkafka must change, now recorded as changed.
    mutating func pauseChanges() -> (pause: [KafkaTopicPartition], resume: [KafkaTopicPartition]) {
        let wanted = Set(assigned.filter(shouldPause))
        let pause = wanted.subtracting(fetchPaused)
        let resume = fetchPaused.subtracting(wanted)
        fetchPaused = wanted
        return (Array(pause), Array(resume))
    }

    /// Records a new assignment, reading from `startingOffsets` (those known), and queues its
    /// event. Returns how librdkafka must set each new partition (all of them: it may still hold
    /// a pause from an earlier assignment).
    mutating func assign(_ partitions: [KafkaTopicPartition], startingOffsets: [KafkaTopicPartition: Int64] = [:]) -> (
        pause: [KafkaTopicPartition], resume: [KafkaTopicPartition]
    ) {
        assigned.formUnion(partitions)
        for partition in partitions { continuity.start(partition, at: startingOffsets[partition]) }
        buffer.append(.assigned(partitions))
        let pause = partitions.filter(shouldPause)
        fetchPaused.formUnion(pause)
        return (pause, partitions.filter { !shouldPause($0) })
    }

    /// Forgets `partitions` (offsets, pauses, undelivered records) and queues the revocation.
    /// Returns the caller to wake.
    mutating func revoke(_ partitions: [KafkaTopicPartition]) -> CheckedContinuation<Void, Never>? {
        revocations += 1
        assigned.subtract(partitions)
        userPaused.subtract(partitions)
        fetchPaused.subtract(partitions)
        continuity.forget(partitions)
        for partition in partitions {
            stored[partition] = nil
            committed[partition] = nil
        }
        let revoked = Set(partitions)
        buffer.removeAll { event in
            if case .message(let message) = event { return revoked.contains(message.topicPartition) }
            return false
        }
        buffer.append(.revoked(partitions))
        return takeWaiter()
    }

    /// Stored offsets not committed yet, of `partitions` (nil: all).
    func uncommitted(of partitions: [KafkaTopicPartition]?) -> [(KafkaTopicPartition, Int64)] {
        let candidates = partitions.map { Set($0) }
        return stored.filter { partition, offset in
            committed[partition] != offset && candidates.map { $0.contains(partition) } ?? true
        }.map { ($0.key, $0.value) }
    }

    /// Moves a poll batch into the buffer, leaving `batch` empty (its storage is reused: the
    /// arrays trade places instead of being copied when the buffer is empty). With
    /// `droppingRevoked`, records of partitions no longer assigned are left out. Records past a
    /// gap in a partition's offsets are withheld: returns where to re-read those partitions from.
    mutating func append(
        _ batch: inout [KafkaConsumerEvent], droppingRevoked: Bool, now: ContinuousClock.Instant, logger: Logger
    ) -> [(KafkaTopicPartition, Int64)] {
        if droppingRevoked {
            batch.removeAll { event in
                if case .message(let message) = event { return !assigned.contains(message.topicPartition) }
                return false
            }
        }
        let rereads = continuity.filter(&batch, now: now, logger: logger)
        if buffer.isEmpty {
            swap(&buffer, &batch)
        } else {
            buffer.append(contentsOf: batch)
        }
        batch.removeAll(keepingCapacity: true)
        return rereads
    }

    mutating func takeWaiter() -> CheckedContinuation<Void, Never>? {
        defer { waiter = nil }
        return waiter
    }

    /// Trades everything buffered, in order, for `spare` (emptied first, its storage reused).
    mutating func drain(into spare: inout [KafkaConsumerEvent]) {
        spare.removeAll(keepingCapacity: true)
        swap(&buffer, &spare)
    }
}
