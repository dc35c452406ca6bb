import Foundation

/// The latest full status of one job, published on the status topic (key = job id).
///
/// The aggregator publishes one whenever a job's status changes. The topic is compacted, and
/// the last message for a key is the job's current status ("latest wins"). Delivery is
/// at-least-once: after a crash, messages already sent may be sent again, byte for byte.
/// Every field derives from the topics' contents, so any aggregator that applied the same
/// messages publishes the same bytes.
public struct JobStatusMessage: VersionedMessage, Sendable, Equatable {
    public static let schemaVersion = 1
    public static let messageName = "status"

    public var schema: Int
    public var jobID: JobID
    public var team: String
    /// The spec's name and kind; absent until the submit command was read.
    public var name: String?
    public var kind: String?
    /// The state of the latest attempt.
    public var state: JobState
    /// The latest attempt (0 until a worker claimed the job).
    public var attempt: Int
    /// Who reported the deciding event of the latest attempt.
    public var stateSource: EventSource
    public var backend: String?
    public var resourceName: String?
    public var exitCode: Int32?
    public var failureClass: FailureClass?
    public var reason: String?
    public var submittedAt: Date?
    /// The first claim of any attempt.
    public var claimedAt: Date?
    /// When the latest attempt started running.
    public var startedAt: Date?
    /// When the latest attempt reached its terminal state.
    public var finishedAt: Date?
    /// The earliest cancel request, when one was made.
    public var cancelRequestedAt: Date?
    /// The time of the latest event applied (event time, not the aggregator's clock).
    public var updatedAt: Date
    /// Submission to first claim, in seconds (milliseconds precision).
    public var queueWaitSeconds: Double?
    /// Run time of the latest attempt, in seconds, once it has finished.
    public var runSeconds: Double?
    /// What the job's attempts cost so far, in USD (absent until a worker reported a cost).
    public var costUSD: Double?

    public init(
        jobID: JobID, team: String, name: String? = nil, kind: String? = nil, state: JobState, attempt: Int, stateSource: EventSource,
        backend: String? = nil, resourceName: String? = nil, exitCode: Int32? = nil, failureClass: FailureClass? = nil, reason: String? = nil,
        submittedAt: Date? = nil, claimedAt: Date? = nil, startedAt: Date? = nil, finishedAt: Date? = nil, cancelRequestedAt: Date? = nil,
        updatedAt: Date, queueWaitSeconds: Double? = nil, runSeconds: Double? = nil, costUSD: Double? = nil
    ) {
        self.schema = JobStatusMessage.schemaVersion
        self.jobID = jobID
        self.team = team
        self.name = name
        self.kind = kind
        self.state = state
        self.attempt = attempt
        self.stateSource = stateSource
        self.backend = backend
        self.resourceName = resourceName
        self.exitCode = exitCode
        self.failureClass = failureClass
        self.reason = reason
        self.submittedAt = submittedAt
        self.claimedAt = claimedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.cancelRequestedAt = cancelRequestedAt
        self.updatedAt = updatedAt
        // Differences of millisecond timestamps, without the binary noise (2.123, not 2.12299990654).
        self.queueWaitSeconds = queueWaitSeconds.map { ($0 * 1000).rounded() / 1000 }
        self.runSeconds = runSeconds.map { ($0 * 1000).rounded() / 1000 }
        self.costUSD = costUSD
    }

    enum CodingKeys: String, CodingKey {
        case schema
        case jobID = "jobId"
        case team, name, kind, state, attempt, stateSource, backend, resourceName, exitCode, failureClass, reason
        case submittedAt, claimedAt, startedAt, finishedAt, cancelRequestedAt, updatedAt, queueWaitSeconds, runSeconds, costUSD
    }
}

/// Encodes and decodes status messages.
public enum JobStatusCodec {
    /// A single-pass writer for the usual case; `JSONEncoder` (the same bytes) for the rest.
    public static func encode(_ status: JobStatusMessage) throws -> Data {
        if let data = writeFlat(status) { return data }
        return try WireFormat.encode(status)
    }

    /// The members in sorted key order, as `WireFormat.encoder()` writes them.
    static func writeFlat(_ status: JobStatusMessage) -> Data? {
        var writer = WireJSONWriter(capacity: 640)
        writer.integer("attempt", status.attempt)
        writer.string("backend", status.backend)
        writer.timestamp("cancelRequestedAt", status.cancelRequestedAt)
        writer.timestamp("claimedAt", status.claimedAt)
        writer.double("costUSD", status.costUSD)
        writer.integer("exitCode", status.exitCode)
        writer.string("failureClass", status.failureClass?.rawValue)
        writer.timestamp("finishedAt", status.finishedAt)
        writer.string("jobId", status.jobID.rawValue)
        writer.string("kind", status.kind)
        writer.string("name", status.name)
        writer.double("queueWaitSeconds", status.queueWaitSeconds)
        writer.string("reason", status.reason)
        writer.string("resourceName", status.resourceName)
        writer.double("runSeconds", status.runSeconds)
        writer.integer("schema", status.schema)
        writer.timestamp("startedAt", status.startedAt)
        writer.string("state", status.state.rawValue)
        writer.string("stateSource", status.stateSource.rawValue)
        writer.timestamp("submittedAt", status.submittedAt)
        writer.string("team", status.team)
        writer.timestamp("updatedAt", status.updatedAt)
        return writer.data
    }

    /// - Throws: `DecodingError` for bytes that are not a status message of this schema version.
    public static func decode(_ bytes: Data) throws -> JobStatusMessage {
        try WireFormat.decode(JobStatusMessage.self, from: bytes)
    }
}
