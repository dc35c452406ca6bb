import Foundation

/// One alert notification on the alerts topic (key = alert id): an alert starts firing, or
/// resolves.
///
/// Each alert id fires once and resolves once per episode: the aggregator remembers what fires
/// in its store, so neither a re-evaluation nor a restart pages again. Delivery is at-least-once:
/// after a crash the last notifications may be sent again, byte for byte; consumers dedupe on
/// (`alertId`, `status`, `firedAt`).
public struct AlertMessage: VersionedMessage, Sendable, Equatable {
    public static let schemaVersion = 1
    public static let messageName = "alert"

    public var schema: Int
    /// Stable per condition, e.g. `job-failed:<job id>` or `failure-rate:<team>:<backend>`.
    public var alertID: String
    public var rule: AlertRule
    public var status: AlertStatus
    public var severity: AlertSeverity
    public var team: String
    public var backend: String?
    /// The job, for alerts about one job.
    public var jobID: JobID?
    /// One line a person reads in a chat channel.
    public var summary: String
    /// The measured value that crossed the threshold (seconds, a ratio or a count), when firing began.
    public var value: Double?
    public var threshold: Double?
    public var firedAt: Date
    public var resolvedAt: Date?

    public init(
        alertID: String, rule: AlertRule, status: AlertStatus = .firing, severity: AlertSeverity, team: String, backend: String? = nil,
        jobID: JobID? = nil, summary: String, value: Double? = nil, threshold: Double? = nil, firedAt: Date, resolvedAt: Date? = nil
    ) {
        self.schema = AlertMessage.schemaVersion
        self.alertID = alertID
        self.rule = rule
        self.status = status
        self.severity = severity
        self.team = team
        self.backend = backend
        self.jobID = jobID
        self.summary = summary
        self.value = value
        self.threshold = threshold
        self.firedAt = firedAt
        self.resolvedAt = resolvedAt
    }

    enum CodingKeys: String, CodingKey {
        case schema
        case alertID = "alertId"
        case rule, status, severity, team, backend
        case jobID = "jobId"
        case summary, value, threshold, firedAt, resolvedAt
    }
}

/// The condition an alert reports.
public enum AlertRule: String, Codable, Sendable, CaseIterable {
    /// A job ended FAILED or TIMED_OUT after its retries.
    case jobFailed
    /// Jobs claimed, provisioning or pending for longer than the bound, per team and backend.
    case jobStuck
    /// Jobs running past their max runtime plus a grace period, per team and backend.
    case jobOverdue
    /// Jobs in flight that no worker has observed for longer than the bound, per team and backend.
    case jobUnobserved
    /// Jobs waiting to be claimed for longer than the bound, per team.
    case queueWait
    /// The share of finished jobs that failed, per team and backend, over a window.
    case failureRate
    /// A team's spend over a window above its threshold, per team.
    case teamSpend
}

public enum AlertStatus: String, Codable, Sendable {
    case firing, resolved
}

public enum AlertSeverity: String, Codable, Sendable {
    /// Someone should act now.
    case critical
    /// Someone should look during working hours.
    case warning
}

/// Encodes and decodes alert messages.
public enum AlertCodec {
    public static func encode(_ alert: AlertMessage) throws -> Data {
        try WireFormat.encode(alert)
    }

    /// - Throws: `DecodingError` for bytes that are not an alert of this schema version.
    public static func decode(_ bytes: Data) throws -> AlertMessage {
        try WireFormat.decode(AlertMessage.self, from: bytes)
    }
}
