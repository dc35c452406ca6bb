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
    public let record: IngestRecord
    /// The record's JSON as the store keeps it, encoded where the message is made: the aggregator
    /// converts the next batch while the store writes the last one, so this work is off the
    /// store's thread.
    let encoded: IngestEncoding

    public init(position: MessagePosition, record: IngestRecord) {
        self.position = position
        self.record = record
        encoded = IngestEncoding(record)
    }
}

/// The canonical JSON of a record's stored parts; nil where encoding failed (the store then
/// encodes again and reports the error in its transaction).
struct IngestEncoding: Sendable, Equatable {
    /// A submit's spec (`jobs.spec_json`).
    var spec: String?
    /// A submit's QUEUED event or a lifecycle event (`job_events.payload_json`).
    var event: String?

    init(_ record: IngestRecord) {
        switch record {
        case .submitted(let command):
            spec = try? String(decoding: JobSpecCodec.encode(command.spec), as: UTF8.self)
            event = try? String(decoding: LifecycleEventCodec.encode(LifecycleEvent.queued(command)), as: UTF8.self)
        case .event(let event) where event.observedAt == nil:
            self.event = try? String(decoding: LifecycleEventCodec.encode(event), as: UTF8.self)
        case .event:
            break  // a heartbeat: not kept in the history
        case .cancelRequested, .rejected:
            break
        }
    }
}

extension LifecycleEvent {
    /// The QUEUED event the aggregator records for a submit.
    static func queued(_ command: SubmitCommand) -> LifecycleEvent {
        LifecycleEvent(
            jobID: command.jobID, attempt: 0, state: .queued, source: .aggregator, occurredAt: command.submittedAt, team: command.spec.team)
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
