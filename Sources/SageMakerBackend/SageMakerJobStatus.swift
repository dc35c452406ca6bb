import Foundation
import TrainyardAWS
import TrainyardBackends
import TrainyardCore

/// A SageMaker job's state as DescribeTrainingJob / DescribeProcessingJob or a state-change
/// event reports it. The primary status (`TrainingJobStatus`) decides; `SecondaryStatus` is
/// carried along for display only.
public struct SageMakerJobStatus: Sendable, Equatable {
    public var kind: SageMakerJobKind
    /// `InProgress`, `Completed`, `Failed`, `Stopping` or `Stopped`.
    public var status: String
    public var secondaryStatus: String?
    public var failureReason: String?
    public var startedAt: Date?
    public var endedAt: Date?
    public var lastModifiedAt: Date?
    /// `BillableTimeInSeconds` of a training job's Describe (absent while running and on processing jobs).
    public var billableSeconds: Double?

    public init(
        kind: SageMakerJobKind, status: String, secondaryStatus: String? = nil, failureReason: String? = nil, startedAt: Date? = nil,
        endedAt: Date? = nil, lastModifiedAt: Date? = nil, billableSeconds: Double? = nil
    ) {
        self.kind = kind
        self.status = status
        self.secondaryStatus = secondaryStatus
        self.failureReason = failureReason
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.lastModifiedAt = lastModifiedAt
        self.billableSeconds = billableSeconds
    }

    /// Reads a Describe response or an event's `detail` (same field names); nil without a status.
    public init?(kind: SageMakerJobKind, document: JSONValue) {
        guard let status = document[kind.statusField]?.string else { return nil }
        self.init(
            kind: kind, status: status, secondaryStatus: document["SecondaryStatus"]?.string,
            failureReason: document["FailureReason"]?.string ?? document["ExitMessage"]?.string,
            startedAt: Self.date(document[kind.startField]), endedAt: Self.date(document[kind.endField]),
            lastModifiedAt: Self.date(document["LastModifiedTime"]), billableSeconds: document["BillableTimeInSeconds"]?.number)
    }

    public var isTerminal: Bool { ["Completed", "Failed", "Stopped"].contains(status) }

    /// Progress order: a cached status is replaced only by one at least as far along, so late
    /// or duplicated events never move a job backwards.
    var rank: Int {
        switch status {
        case "InProgress": startedAt == nil ? 1 : 2
        case "Stopping": 3
        case "Completed", "Failed", "Stopped": 4
        default: 0
        }
    }

    /// What the worker sees. InProgress is pending until the job's code started (the start time
    /// is set), then running; Stopped is TIMED_OUT when the max runtime ended it, else CANCELLED.
    public var observation: BackendObservation {
        let finishedAt = endedAt ?? lastModifiedAt ?? Date()
        switch status {
        case "Completed":
            return .finished(
                BackendOutcome(state: .succeeded, exitCode: 0, finishedAt: finishedAt, startedAt: startedAt, billedSeconds: billableSeconds))
        case "Failed":
            return .finished(
                BackendOutcome(
                    state: .failed, failureClass: Self.failureClass(failureReason),
                    reason: failureReason ?? "SageMaker reported Failed without a reason",
                    finishedAt: finishedAt, startedAt: startedAt, billedSeconds: billableSeconds))
        case "Stopped":
            if secondaryStatus == "MaxRuntimeExceeded" {
                return .finished(
                    BackendOutcome(
                        state: .timedOut, reason: "stopped by SageMaker: MaxRuntimeInSeconds exceeded", finishedAt: finishedAt, startedAt: startedAt,
                        billedSeconds: billableSeconds))
            }
            return .finished(
                BackendOutcome(
                    state: .cancelled, reason: "stopped (\(secondaryStatus ?? "Stopped"))", finishedAt: finishedAt, startedAt: startedAt,
                    billedSeconds: billableSeconds))
        default:
            if let startedAt { return .running(since: startedAt) }
            return .pending(reason: secondaryStatus.map { "SageMaker: \(status) / \($0)" } ?? "SageMaker: \(status)")
        }
    }

    /// SageMaker prefixes FailureReason with its category: `AlgorithmError` and `ClientError` are
    /// the job's own code or input (user error); capacity and internal errors are infrastructure
    /// (retried by default). Anything else counts as user error, so an unknown failure does not
    /// start paid retries on its own.
    public static func failureClass(_ reason: String?) -> FailureClass {
        let category = reason?.split(separator: ":", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        let infrastructure: Set<String> = [
            "CapacityError", "InternalServerError", "InternalError", "InternalFailure", "InsufficientInstanceCapacity", "ResourceLimitExceeded",
            "ThrottlingException", "SpotInterruption",
        ]
        return infrastructure.contains(category) ? .infrastructure : .userError
    }

    /// JSON-protocol timestamps are epoch seconds; EventBridge event details carry epoch
    /// milliseconds; either may be an ISO 8601 string.
    static func date(_ value: JSONValue?) -> Date? {
        switch value {
        case .number(let number)?: return Date(timeIntervalSince1970: number > 1e11 ? number / 1000 : number)
        case .string(let text)?: return try? Date(text, strategy: .iso8601)
        default: return nil
        }
    }
}
