import Foundation
import TrainyardCore

/// A job's current status as the store holds it.
public struct JobRecord: Sendable, Equatable, Codable {
    public var jobID: JobID
    public var team: String
    public var name: String?
    public var kind: String?
    public var requestedBackend: String?
    public var submittedAt: Date?
    public var cancelRequestedAt: Date?
    /// The latest attempt (0 until a worker claimed the job).
    public var attempt: Int
    public var state: JobState
    /// Who reported the deciding event of the latest attempt.
    public var stateSource: EventSource
    public var backend: String?
    public var resourceName: String?
    public var exitCode: Int32?
    public var failureClass: FailureClass?
    public var reason: String?
    public var claimedAt: Date?
    public var startedAt: Date?
    public var finishedAt: Date?
    public var updatedAt: Date
    /// The sum of the costs its attempts reported, in USD; nil while none did.
    public var costUSD: Double?

    public init(
        jobID: JobID, team: String, name: String? = nil, kind: String? = nil, requestedBackend: String? = nil, submittedAt: Date? = nil,
        cancelRequestedAt: Date? = nil, attempt: Int, state: JobState, stateSource: EventSource, backend: String? = nil,
        resourceName: String? = nil, exitCode: Int32? = nil, failureClass: FailureClass? = nil, reason: String? = nil, claimedAt: Date? = nil,
        startedAt: Date? = nil, finishedAt: Date? = nil, updatedAt: Date, costUSD: Double? = nil
    ) {
        self.jobID = jobID
        self.team = team
        self.name = name
        self.kind = kind
        self.requestedBackend = requestedBackend
        self.submittedAt = submittedAt
        self.cancelRequestedAt = cancelRequestedAt
        self.attempt = attempt
        self.state = state
        self.stateSource = stateSource
        self.backend = backend
        self.resourceName = resourceName
        self.exitCode = exitCode
        self.failureClass = failureClass
        self.reason = reason
        self.claimedAt = claimedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.updatedAt = updatedAt
        self.costUSD = costUSD
    }

    /// Seconds from submission to the first claim.
    public var queueWait: TimeInterval? {
        guard let submittedAt, let claimedAt else { return nil }
        return max(0, claimedAt.timeIntervalSince(submittedAt))
    }

    /// Seconds the latest attempt ran (so far, when still running).
    public func runTime(now: Date = Date()) -> TimeInterval? {
        guard let startedAt else { return nil }
        return max(0, (finishedAt ?? now).timeIntervalSince(startedAt))
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "jobId"
        case team, name, kind, requestedBackend, submittedAt, cancelRequestedAt, attempt, state, stateSource, backend
        case resourceName, exitCode, failureClass, reason, claimedAt, startedAt, finishedAt, updatedAt, costUSD
    }
}

/// One stored event of a job's history, with where it was read.
public struct StoredEvent: Sendable, Equatable {
    public var position: MessagePosition
    public var event: LifecycleEvent
}

extension JobStatusMessage {
    /// The status message that publishes `record`.
    public init(_ record: JobRecord) {
        self.init(
            jobID: record.jobID, team: record.team, name: record.name, kind: record.kind, state: record.state, attempt: record.attempt,
            stateSource: record.stateSource, backend: record.backend, resourceName: record.resourceName, exitCode: record.exitCode,
            failureClass: record.failureClass, reason: record.reason, submittedAt: record.submittedAt, claimedAt: record.claimedAt,
            startedAt: record.startedAt, finishedAt: record.finishedAt, cancelRequestedAt: record.cancelRequestedAt, updatedAt: record.updatedAt,
            queueWaitSeconds: record.queueWait, runSeconds: record.finishedAt.flatMap { record.runTime(now: $0) }, costUSD: record.costUSD)
    }
}

/// A job touched by a batch: its state before the batch, and its record after it.
public struct JobTransition: Sendable, Equatable {
    /// Nil when the job was not in the store before.
    public var previousState: JobState?
    public var record: JobRecord

    /// True when the batch moved the job into a terminal state.
    public var becameTerminal: Bool { record.state.isTerminal && previousState?.isTerminal != true }
}
