/// The topics of one Trainyard deployment, sharing a prefix (default `trainyard`).
public struct TopicNames: Sendable, Equatable {
    public var prefix: String

    public init(prefix: String = "trainyard") { self.prefix = prefix }

    /// Submit and cancel commands (key = job id).
    public var requests: String { "\(prefix).requests" }
    /// Lifecycle events (key = job id).
    public var events: String { "\(prefix).events" }
    /// Latest full status per job (key = job id; meant to be compacted).
    public var status: String { "\(prefix).status" }
    /// Alerts, firing and resolved.
    public var alerts: String { "\(prefix).alerts" }
    /// Messages that could not be processed: original bytes plus reason headers.
    public var deadLetters: String { "\(prefix).dlq" }

    public var all: [String] { [requests, events, status, alerts, deadLetters] }
}
