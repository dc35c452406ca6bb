import Foundation
import TrainyardCore
import TrainyardStore

/// `GET /v1/jobs/{id}`: every field of the status message (same JSON names), the spec
/// (secrets appear only as references) and the attempts with their per-state timestamps.
struct JobDetail: Encodable {
    var status: JobStatusMessage
    var spec: JobSpec?
    var attempts: [AttemptView]

    enum Keys: String, CodingKey { case spec, attempts }

    func encode(to encoder: Encoder) throws {
        try status.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encodeIfPresent(spec, forKey: .spec)
        try container.encode(attempts, forKey: .attempts)
    }
}

/// One attempt as the store folded it (attempt 0 is the request itself).
struct AttemptView: Encodable {
    var attempt: Int
    var state: JobState
    var stateSource: EventSource
    var backend: String?
    var resourceName: String?
    var exitCode: Int32?
    var failureClass: FailureClass?
    var reason: String?
    /// When each state was first seen, keyed by state name.
    var stateTimes: [String: Date]
    var lastSeenAt: Date
    /// What the attempt cost, once its terminal event reported it.
    var costUSD: Double?
    var billedSeconds: Double?
    /// Present (true) only when the cost is an estimate.
    var costIsEstimate: Bool?

    init(_ status: AttemptStatus, cost: AttemptCostRecord? = nil) {
        attempt = status.attempt
        state = status.state
        stateSource = status.decisive.source
        backend = status.decisive.backend
        resourceName = status.resourceName
        exitCode = status.decisive.exitCode
        failureClass = status.decisive.failureClass
        reason = status.decisive.reason
        stateTimes = Dictionary(uniqueKeysWithValues: status.firstSeen.map { ($0.key.rawValue, $0.value) })
        lastSeenAt = status.lastSeen
        costUSD = cost?.costUSD
        billedSeconds = cost?.billedSeconds
        costIsEstimate = cost?.isEstimate == true ? true : nil
    }
}

/// `GET /v1/jobs/{id}/events`: every stored event, superseded reports included.
struct EventHistory: Encodable {
    struct Entry: Encodable {
        var event: LifecycleEvent
        var topic: String
        var partition: Int32
        var offset: Int64
        /// True for the event that decides its attempt's state.
        var decisive: Bool

        enum Keys: String, CodingKey { case topic, partition, offset, decisive }

        func encode(to encoder: Encoder) throws {
            try event.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(topic, forKey: .topic)
            try container.encode(partition, forKey: .partition)
            try container.encode(offset, forKey: .offset)
            try container.encode(decisive, forKey: .decisive)
        }
    }

    var jobId: JobID
    var events: [Entry]
}

/// `GET /v1/jobs`: one page.
struct JobListPage: Encodable {
    var jobs: [JobStatusMessage]
    /// Pass as `cursor` for the next page; null on the last page.
    var nextCursor: String?

    enum CodingKeys: String, CodingKey { case jobs, nextCursor }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(jobs, forKey: .jobs)
        // Always present: null marks the last page.
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

/// `POST /v1/jobs` → 202.
struct SubmitAccepted: Encodable {
    var jobId: JobID
    /// SUBMITTED until the aggregator has read the request, then the job's current state.
    var state: String
}

/// `POST /v1/jobs/{id}/cancel` → 202.
struct CancelAccepted: Encodable {
    var jobId: JobID
    var cancelRequested = true
}

/// `POST /v1/login-links` → 201.
struct LoginLink: Encodable {
    var url: String
    var expiresInSeconds: Int
}
