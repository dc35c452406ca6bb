import Logging

/// Checks that each partition's records are handed out at consecutive offsets, so the consumer
/// never lets its caller store (and commit) an offset past a record it did not deliver.
///
/// A record past the expected offset is a gap. Kafka has legitimate gaps (transaction markers,
/// compaction), but a broker can also expose a later batch before an earlier one: Tansu 0.6.0
/// advances a partition's high watermark before it stores the batch it allocated offsets for,
/// so a fetch in that window returns a later, already stored batch and librdkafka moves past
/// the missing records. So a gap is never taken on first sight: the record is withheld and the
/// partition re-read from the expected offset; the gap is accepted (with a warning) only when
/// re-reads still show it `confirmationDelay` after it was first seen. A record below the
/// expected offset was delivered already and is dropped.
struct KafkaOffsetContinuity {
    /// How long a gap must persist before it is taken as real: far longer than a broker takes
    /// to store a batch it has allocated offsets for, short enough for real gaps, which our
    /// topics (not compacted, no transactions) do not have.
    static let confirmationDelay: Duration = .seconds(1)

    /// A gap seen and not yet accepted.
    struct SuspectedGap: Equatable {
        var expected: Int64
        var found: Int64
        var since: ContinuousClock.Instant
    }

    /// The offset each partition's next record must have; absent until known (a partition
    /// assigned without a known starting offset takes its first record as it comes).
    private(set) var expected: [KafkaTopicPartition: Int64] = [:]
    private(set) var suspected: [KafkaTopicPartition: SuspectedGap] = [:]

    /// A newly assigned partition, reading from `offset` when known.
    mutating func start(_ partition: KafkaTopicPartition, at offset: Int64?) {
        expected[partition] = offset.flatMap { $0 >= 0 ? $0 : nil }
        suspected[partition] = nil
    }

    mutating func forget(_ partitions: [KafkaTopicPartition]) {
        for partition in partitions {
            expected[partition] = nil
            suspected[partition] = nil
        }
    }

    /// Removes from `batch` the records that must not be delivered (in order, the rest keep
    /// theirs) and returns, per partition, the offset to re-read it from.
    mutating func filter(_ batch: inout [KafkaConsumerEvent], now: ContinuousClock.Instant, logger: Logger) -> [(KafkaTopicPartition, Int64)] {
        var rereads: [(KafkaTopicPartition, Int64)] = []
        var withheld: Set<KafkaTopicPartition> = []
        var keep: [Bool]?
        var index = 0
        while index < batch.count {
            guard case .message(let first) = batch[index] else {
                index += 1
                continue
            }
            // A run of records of one partition, checked with one lookup.
            let partition = first.topicPartition
            var next = expected[partition]
            var end = index
            while end < batch.count, case .message(let message) = batch[end], message.partition == first.partition,
                message.topic == first.topic
            {
                let offset = message.offset
                let deliver: Bool
                if withheld.contains(partition) {
                    deliver = false
                } else if next == nil || offset == next {
                    deliver = true
                } else if offset < next! {
                    logger.debug("\(partition): dropped offset \(offset), delivered already (next is \(next!))")
                    deliver = false
                } else if acceptGap(partition, expected: next!, found: offset, now: now, logger: logger) {
                    deliver = true
                } else {
                    withheld.insert(partition)
                    rereads.append((partition, next!))
                    deliver = false
                }
                if deliver {
                    next = offset + 1
                } else {
                    if keep == nil { keep = Array(repeating: true, count: batch.count) }
                    keep![end] = false
                }
                end += 1
            }
            expected[partition] = next
            if !withheld.contains(partition) && next != nil && suspected[partition].map({ next! > $0.expected }) == true {
                suspected[partition] = nil
            }
            index = end
        }
        if let keep {
            // Kept records move forward in order; `removeAll(where:)` is not promised to call its
            // predicate in index order, so a position counter inside it would be unsound.
            var kept = 0
            for index in batch.indices where keep[index] {
                if kept != index { batch.swapAt(kept, index) }
                kept += 1
            }
            batch.removeLast(batch.count - kept)
        }
        return rereads
    }

    /// Whether a gap from `expected` to `found` has persisted long enough to be real; records
    /// it as suspected otherwise.
    private mutating func acceptGap(_ partition: KafkaTopicPartition, expected: Int64, found: Int64, now: ContinuousClock.Instant, logger: Logger)
        -> Bool
    {
        if let gap = suspected[partition], gap.expected == expected, gap.found == found {
            guard now - gap.since >= Self.confirmationDelay else { return false }
            suspected[partition] = nil
            logger.warning("\(partition): offsets \(expected)..<\(found) were never delivered by the broker; accepting the gap")
            return true
        }
        if suspected[partition]?.expected != expected {
            logger.notice("\(partition): record at offset \(found) where \(expected) was expected; re-reading from \(expected)")
        }
        // A gap that changed (e.g. part of it filled in) keeps the time it was first seen.
        let since = suspected[partition].flatMap { $0.expected == expected ? $0.since : nil } ?? now
        suspected[partition] = SuspectedGap(expected: expected, found: found, since: since)
        return false
    }
}
