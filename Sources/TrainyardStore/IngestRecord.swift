import TrainyardCore

/// Where a consumed message came from; the store keeps the next offset per partition.
public struct MessagePosition: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// What one consumed message means to the store: the pure "convert" step's output.
public enum IngestRecord: Sendable, Equatable {
    /// A submit command on the requests topic: the job is QUEUED.
    case submitted(SubmitCommand)
    /// A cancel command on the requests topic.
    case cancelRequested(CancelCommand)
    /// A lifecycle event on the events topic.
    case event(LifecycleEvent)
    /// A message that could not be used; recorded, and its offset still moves on.
    case rejected(jobID: JobID?, reason: String)
}

/// A record and the message it came from.
public struct IngestMessage: Sendable, Equatable {
    public var position: MessagePosition
    public var record: IngestRecord

    public init(position: MessagePosition, record: IngestRecord) {
        self.position = position
        self.record = record
    }
}

extension IngestRecord {
    /// The job the record is about, when it names one.
    public var jobID: JobID? {
        switch self {
        case .submitted(let command): command.jobID
        case .cancelRequested(let command): command.jobID
        case .event(let event): event.jobID
        case .rejected(let jobID, _): jobID
        }
    }
}
