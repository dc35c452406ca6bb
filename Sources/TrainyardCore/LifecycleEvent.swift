import Foundation

/// One observation of one attempt of a job, published on the events topic (key = job id).
///
/// Events are facts, not commands: re-emitting one is always safe, and the aggregator's result
/// does not depend on their order or duplication (see `AttemptStatus`).
public struct LifecycleEvent: Codable, Sendable, Equatable {
    /// The envelope's schema version this build writes and reads.
    public static let schemaVersion = 1

    public var schema: Int
    public var jobID: JobID
    /// 1-based attempt number; 0 for request-level states (QUEUED, REJECTED).
    public var attempt: Int
    public var state: JobState
    public var source: EventSource
    public var occurredAt: Date
    public var team: String?
    /// The backend that ran the attempt (`local`, `sagemaker`, `kubernetes`).
    public var backend: String?
    /// The backend resource's deterministic name (or ARN).
    public var resourceName: String?
    public var exitCode: Int32?
    public var failureClass: FailureClass?
    /// Human-readable cause (failure reason, rejection reason, cancel reason).
    public var reason: String?
    /// The worker that reported it.
    public var workerID: String?
    /// Set on heartbeats: a worker re-reports the attempt's current state at this time to show
    /// that it still observes it. A heartbeat adds no fact (the store keeps it out of the history).
    public var observedAt: Date?

    public init(
        jobID: JobID, attempt: Int, state: JobState, source: EventSource, occurredAt: Date = Date(),
        team: String? = nil, backend: String? = nil, resourceName: String? = nil, exitCode: Int32? = nil,
        failureClass: FailureClass? = nil, reason: String? = nil, workerID: String? = nil, observedAt: Date? = nil
    ) {
        self.schema = LifecycleEvent.schemaVersion
        self.jobID = jobID
        self.attempt = attempt
        self.state = state
        self.source = source
        self.occurredAt = occurredAt
        self.team = team
        self.backend = backend
        self.resourceName = resourceName
        self.exitCode = exitCode
        self.failureClass = failureClass
        self.reason = reason
        self.workerID = workerID
        self.observedAt = observedAt
    }

    enum CodingKeys: String, CodingKey {
        case schema
        case jobID = "jobId"
        case attempt, state, source, occurredAt, team, backend, resourceName, exitCode, failureClass, reason
        case workerID = "workerId"
        case observedAt
    }
}

/// Encodes and decodes lifecycle events.
public enum LifecycleEventCodec {
    public static func encode(_ event: LifecycleEvent) throws -> Data {
        try WireFormat.encoder().encode(event)
    }

    public static func decode(_ bytes: Data) throws -> LifecycleEvent {
        let event = try WireFormat.decoder().decode(LifecycleEvent.self, from: bytes)
        guard event.schema == LifecycleEvent.schemaVersion else {
            throw RequestRejection(code: .unknownSchema, reason: "event schema version \(event.schema) is not supported", jobID: event.jobID)
        }
        guard event.attempt >= 0 else {
            throw RequestRejection(code: .malformed, reason: "negative attempt", jobID: event.jobID)
        }
        return event
    }
}
