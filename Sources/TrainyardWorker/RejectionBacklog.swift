import TrainyardCore
import TrainyardKafka

/// The rejected requests waiting to be recorded (dead letter, then REJECTED event), in the order
/// they were read, and the retry state of the one at the head.
///
/// One loop records them one at a time: a DLQ that refuses records costs one retry with backoff,
/// not one per message. After `pauseAfterFailures` failures in a row the backlog is blocked: the
/// worker pauses consumption until a record goes through. A request's offset stays pending until
/// it was recorded, so nothing is committed past a request that is not in the DLQ.
struct RejectionBacklog {
    struct Entry {
        let message: KafkaMessage
        let rejection: RequestRejection
        /// The dead letter is stored; only the REJECTED event is left (it is not sent twice).
        var deadLettered = false
    }

    let pauseAfterFailures: Int
    let initialBackoff: Duration
    let maximumBackoff: Duration
    private(set) var entries: [Entry] = []
    private(set) var consecutiveFailures = 0

    init(pauseAfterFailures: Int, initialBackoff: Duration, maximumBackoff: Duration) {
        self.pauseAfterFailures = max(1, pauseAfterFailures)
        self.initialBackoff = initialBackoff
        self.maximumBackoff = max(initialBackoff, maximumBackoff)
    }

    var head: Entry? { entries.first }

    /// True while recording keeps failing: consumption should stay paused.
    var isBlocked: Bool { consecutiveFailures >= pauseAfterFailures }

    mutating func append(_ message: KafkaMessage, _ rejection: RequestRejection) {
        entries.append(Entry(message: message, rejection: rejection))
    }

    /// The dead letter of `entry` (the head when the try began) is stored.
    mutating func deadLettered(_ entry: Entry) {
        consecutiveFailures = 0
        if let index = index(of: entry) { entries[index].deadLettered = true }
    }

    /// `entry` is fully recorded: it leaves the backlog.
    mutating func recorded(_ entry: Entry) {
        consecutiveFailures = 0
        if let index = index(of: entry) { entries.remove(at: index) }
    }

    /// Forgets the requests of partitions handed over: their new owner reads them again.
    mutating func drop(_ partitions: Set<KafkaTopicPartition>) {
        entries.removeAll { partitions.contains($0.message.topicPartition) }
        if entries.isEmpty { consecutiveFailures = 0 }
    }

    private func index(of entry: Entry) -> Int? {
        entries.firstIndex { $0.message.topicPartition == entry.message.topicPartition && $0.message.offset == entry.message.offset }
    }

    /// Notes a failed try and returns how long to wait before the next one (doubling, capped).
    mutating func failed() -> Duration {
        consecutiveFailures += 1
        var delay = initialBackoff
        for _ in 1..<consecutiveFailures where delay < maximumBackoff { delay = delay * 2 }
        return min(delay, maximumBackoff)
    }
}
