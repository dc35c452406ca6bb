/// Which offsets of one partition still need this worker, and so how far it may commit.
///
/// A request's offset stays pending from the moment it is read until its job no longer needs
/// the partition's owner: its terminal event was delivered, or it was rejected to the DLQ, or
/// (for a cancel) the stop was recorded in the backend. The committable position is the oldest
/// pending offset, so a new owner re-reads every request whose job was still in flight.
public struct PartitionProgress: Sendable, Equatable {
    private var pending: Set<Int64> = []
    private var highestRead: Int64 = -1

    public init() {}

    public mutating func read(_ offset: Int64) {
        pending.insert(offset)
        highestRead = max(highestRead, offset)
    }

    public mutating func done(_ offset: Int64) { pending.remove(offset) }

    /// The offset a new owner should resume at; nil before anything was read.
    public var committablePosition: Int64? {
        if let oldest = pending.min() { return oldest }
        return highestRead >= 0 ? highestRead + 1 : nil
    }

    public var pendingCount: Int { pending.count }
}
