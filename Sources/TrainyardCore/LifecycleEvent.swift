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
    /// On terminal events: what the attempt cost in USD (price × billed time), when the worker knows.
    public var costUSD: Double?
    /// On terminal events: the time the attempt is billed for.
    public var billedSeconds: Double?
    /// Set (true) only when `costUSD` is an estimate: a price or a billed time the backend did not give.
    public var costIsEstimate: Bool?

    public init(
        jobID: JobID, attempt: Int, state: JobState, source: EventSource, occurredAt: Date = Date(),
        team: String? = nil, backend: String? = nil, resourceName: String? = nil, exitCode: Int32? = nil,
        failureClass: FailureClass? = nil, reason: String? = nil, workerID: String? = nil, observedAt: Date? = nil,
        costUSD: Double? = nil, billedSeconds: Double? = nil, costIsEstimate: Bool? = nil
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
        self.costUSD = costUSD
        self.billedSeconds = billedSeconds
        self.costIsEstimate = costIsEstimate
    }

    enum CodingKeys: String, CodingKey {
        case schema
        case jobID = "jobId"
        case attempt, state, source, occurredAt, team, backend, resourceName, exitCode, failureClass, reason
        case workerID = "workerId"
        case observedAt, costUSD, billedSeconds, costIsEstimate
    }
}

/// Encodes and decodes lifecycle events.
///
/// Both directions take a single-pass path for the flat objects Trainyard writes, and fall back
/// to Foundation's `JSONEncoder`/`JSONDecoder` (same bytes, same results) for anything else.
public enum LifecycleEventCodec {
    public static func encode(_ event: LifecycleEvent) throws -> Data {
        if let data = writeFlat(event) { return data }
        return try WireFormat.encoder().encode(event)
    }

    public static func decode(_ bytes: Data) throws -> LifecycleEvent {
        let event = try readFlat(bytes) ?? WireFormat.decoder().decode(LifecycleEvent.self, from: bytes)
        guard event.schema == LifecycleEvent.schemaVersion else {
            throw RequestRejection(code: .unknownSchema, reason: "event schema version \(event.schema) is not supported", jobID: event.jobID)
        }
        guard event.attempt >= 0 else {
            throw RequestRejection(code: .malformed, reason: "negative attempt", jobID: event.jobID)
        }
        return event
    }
}

extension LifecycleEventCodec {
    /// The members in sorted key order, as `WireFormat.encoder()` writes them.
    static func writeFlat(_ event: LifecycleEvent) -> Data? {
        var writer = WireJSONWriter(capacity: 384)
        writer.integer("attempt", event.attempt)
        writer.string("backend", event.backend)
        writer.double("billedSeconds", event.billedSeconds)
        writer.boolean("costIsEstimate", event.costIsEstimate)
        writer.double("costUSD", event.costUSD)
        writer.integer("exitCode", event.exitCode)
        writer.string("failureClass", event.failureClass?.rawValue)
        writer.string("jobId", event.jobID.rawValue)
        writer.timestamp("observedAt", event.observedAt)
        writer.timestamp("occurredAt", event.occurredAt)
        writer.string("reason", event.reason)
        writer.string("resourceName", event.resourceName)
        writer.integer("schema", event.schema)
        writer.string("source", event.source.rawValue)
        writer.string("state", event.state.rawValue)
        writer.string("team", event.team)
        writer.string("workerId", event.workerID)
        return writer.data
    }

    /// The event when `bytes` is a flat object this reader handles and every member is valid;
    /// nil otherwise (the caller then decodes with `JSONDecoder`, which explains what is wrong).
    static func readFlat(_ bytes: Data) -> LifecycleEvent? {
        var keys = WireJSONKeys()
        var schema: Int?
        var jobID: JobID?
        var attempt: Int?
        var state: JobState?
        var source: EventSource?
        var occurredAt: Date?
        var team: String?
        var backend: String?
        var resourceName: String?
        var exitCode: Int32?
        var failureClass: FailureClass?
        var reason: String?
        var workerID: String?
        var observedAt: Date?
        var costUSD: Double?
        var billedSeconds: Double?
        /// A present value of type T, or an absent one (null); false when it is neither.
        func optional<T>(_ value: WireJSONValue, _ convert: (WireJSONValue) -> T?, into target: inout T?) -> Bool {
            if case .null = value { return true }
            guard let converted = convert(value) else { return false }
            target = converted
            return true
        }
        func text(_ value: WireJSONValue) -> String? { value.string }
        func int(_ value: WireJSONValue) -> Int? { value.int }
        func time(_ value: WireJSONValue) -> Date? { text(value).flatMap(WireFormat.parseTimestamp) }
        let read = WireJSONReader.read(bytes) { key, value in
            switch key {
            case "schema": keys.first(0) && optional(value, int, into: &schema) && schema != nil
            case "jobId": keys.first(1) && optional(value, { text($0).flatMap(JobID.init) }, into: &jobID) && jobID != nil
            case "attempt": keys.first(2) && optional(value, int, into: &attempt) && attempt != nil
            case "state": keys.first(3) && optional(value, { text($0).flatMap(JobState.init(rawValue:)) }, into: &state) && state != nil
            case "source": keys.first(4) && optional(value, { text($0).flatMap(EventSource.init(rawValue:)) }, into: &source) && source != nil
            case "occurredAt": keys.first(5) && optional(value, time, into: &occurredAt) && occurredAt != nil
            case "team": keys.first(6) && optional(value, text, into: &team)
            case "backend": keys.first(7) && optional(value, text, into: &backend)
            case "resourceName": keys.first(8) && optional(value, text, into: &resourceName)
            case "exitCode": keys.first(9) && optional(value, { int($0).flatMap { Int32(exactly: $0) } }, into: &exitCode)
            case "failureClass": keys.first(10) && optional(value, { text($0).flatMap(FailureClass.init(rawValue:)) }, into: &failureClass)
            case "reason": keys.first(11) && optional(value, text, into: &reason)
            case "workerId": keys.first(12) && optional(value, text, into: &workerID)
            case "observedAt": keys.first(13) && optional(value, time, into: &observedAt)
            case "costUSD": keys.first(14) && optional(value, { $0.double }, into: &costUSD)
            case "billedSeconds": keys.first(15) && optional(value, { $0.double }, into: &billedSeconds)
            default: false  // an unknown member may hold anything: JSONDecoder skips it
            }
        }
        guard read, let schema, let jobID, let attempt, let state, let source, let occurredAt else { return nil }
        var event = LifecycleEvent(
            jobID: jobID, attempt: attempt, state: state, source: source, occurredAt: occurredAt, team: team, backend: backend,
            resourceName: resourceName, exitCode: exitCode, failureClass: failureClass, reason: reason, workerID: workerID,
            observedAt: observedAt, costUSD: costUSD, billedSeconds: billedSeconds)
        event.schema = schema
        return event
    }
}
