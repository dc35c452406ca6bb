import Foundation

/// The aggregator's alert rules and where alerts go (`--alerts-config`, YAML). Every field has a
/// default; a rule with `enabled: false` never fires.
public struct AlertConfiguration: Sendable, Equatable, Decodable {
    /// How often the rules are evaluated against the store.
    public var evaluationIntervalSeconds: Double = 15
    public var jobFailed = JobFailedRule()
    public var stuck = StuckRules()
    public var queueWait = QueueWaitRule()
    public var failureRate = FailureRateRule()
    public var teamSpend = TeamSpendRule()
    /// Optional Slack-compatible webhook that receives every notification (after the topic).
    public var webhook: WebhookSettings?

    public init() {}

    /// A job ended FAILED or TIMED_OUT after its retries.
    public struct JobFailedRule: Sendable, Equatable, Decodable {
        public var enabled = true
        /// The alert resolves this long after the job finished (a failed job stays failed).
        public var resolveAfterSeconds: Double = 3600
        public init() {}
    }

    /// Jobs that stopped making progress.
    public struct StuckRules: Sendable, Equatable, Decodable {
        public var enabled = true
        /// CLAIMED, PROVISIONING or PENDING for longer than this.
        public var provisioningSeconds: Double = 900
        /// RUNNING for longer than the job's max runtime plus this.
        public var runningGraceSeconds: Double = 600
        /// In flight with no worker observation for longer than this (workers report every
        /// `--heartbeat-interval`, 60 s by default).
        public var unobservedSeconds: Double = 300
        public init() {}
    }

    /// Jobs waiting to be claimed.
    public struct QueueWaitRule: Sendable, Equatable, Decodable {
        public var enabled = true
        public var thresholdSeconds: Double = 900
        public init() {}
    }

    /// The failed share of the jobs that finished in a window, per team and backend.
    public struct FailureRateRule: Sendable, Equatable, Decodable {
        public var enabled = true
        public var windowSeconds: Double = 3600
        /// Fires at or above this share (0…1).
        public var threshold: Double = 0.5
        /// Fewer finished jobs than this in the window never fire (two failures of three are noise).
        public var minimumFinished: Int = 10
        public init() {}
    }

    /// What a team's attempts cost over a window (docs/spend.md), against a threshold in USD.
    /// Fires only for teams that have a threshold: their own in `teams`, else `thresholdUSD`.
    public struct TeamSpendRule: Sendable, Equatable, Decodable {
        public var enabled = true
        public var windowSeconds: Double = 86_400
        /// The threshold of every team without its own (none by default).
        public var thresholdUSD: Double?
        /// Thresholds by team.
        public var teams: [String: Double] = [:]
        public init() {}

        /// The team's threshold, if it has one.
        public func threshold(for team: String) -> Double? { teams[team] ?? thresholdUSD }

        /// True when some team has a threshold.
        public var hasThresholds: Bool { thresholdUSD != nil || !teams.isEmpty }
    }

    public struct WebhookSettings: Sendable, Equatable, Decodable {
        public var url: String
        public var timeoutSeconds: Double = 5
        /// Tries per notification before it is given up (it is on the alerts topic regardless).
        public var maxAttempts: Int = 5
        public init(url: String) { self.url = url }

        /// What a webhook URL must be, for error messages.
        public static let urlRequirement = "must be an http:// or https:// URL"

        public static func isWebhookURL(_ text: String) -> Bool { text.hasPrefix("http://") || text.hasPrefix("https://") }
    }
}

// Decoding with defaults for absent keys (synthesized Decodable would require every key).
extension AlertConfiguration {
    enum CodingKeys: String, CodingKey { case evaluationIntervalSeconds, jobFailed, stuck, queueWait, failureRate, teamSpend, webhook }

    public init(from decoder: Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        evaluationIntervalSeconds = try container.decodeIfPresent(Double.self, forKey: .evaluationIntervalSeconds) ?? evaluationIntervalSeconds
        jobFailed = try container.decodeIfPresent(JobFailedRule.self, forKey: .jobFailed) ?? jobFailed
        stuck = try container.decodeIfPresent(StuckRules.self, forKey: .stuck) ?? stuck
        queueWait = try container.decodeIfPresent(QueueWaitRule.self, forKey: .queueWait) ?? queueWait
        failureRate = try container.decodeIfPresent(FailureRateRule.self, forKey: .failureRate) ?? failureRate
        teamSpend = try container.decodeIfPresent(TeamSpendRule.self, forKey: .teamSpend) ?? teamSpend
        webhook = try container.decodeIfPresent(WebhookSettings.self, forKey: .webhook)
        guard evaluationIntervalSeconds > 0 else {
            throw DecodingError.dataCorruptedError(forKey: .evaluationIntervalSeconds, in: container, debugDescription: "must be positive")
        }
    }
}

extension AlertConfiguration.JobFailedRule {
    enum CodingKeys: String, CodingKey { case enabled, resolveAfterSeconds }
    public init(from decoder: Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        resolveAfterSeconds = try container.decodeIfPresent(Double.self, forKey: .resolveAfterSeconds) ?? resolveAfterSeconds
    }
}

extension AlertConfiguration.StuckRules {
    enum CodingKeys: String, CodingKey { case enabled, provisioningSeconds, runningGraceSeconds, unobservedSeconds }
    public init(from decoder: Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        provisioningSeconds = try container.decodeIfPresent(Double.self, forKey: .provisioningSeconds) ?? provisioningSeconds
        runningGraceSeconds = try container.decodeIfPresent(Double.self, forKey: .runningGraceSeconds) ?? runningGraceSeconds
        unobservedSeconds = try container.decodeIfPresent(Double.self, forKey: .unobservedSeconds) ?? unobservedSeconds
    }
}

extension AlertConfiguration.QueueWaitRule {
    enum CodingKeys: String, CodingKey { case enabled, thresholdSeconds }
    public init(from decoder: Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        thresholdSeconds = try container.decodeIfPresent(Double.self, forKey: .thresholdSeconds) ?? thresholdSeconds
    }
}

extension AlertConfiguration.FailureRateRule {
    enum CodingKeys: String, CodingKey { case enabled, windowSeconds, threshold, minimumFinished }
    public init(from decoder: Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        windowSeconds = try container.decodeIfPresent(Double.self, forKey: .windowSeconds) ?? windowSeconds
        threshold = try container.decodeIfPresent(Double.self, forKey: .threshold) ?? threshold
        minimumFinished = try container.decodeIfPresent(Int.self, forKey: .minimumFinished) ?? minimumFinished
        guard (0...1).contains(threshold) else {
            throw DecodingError.dataCorruptedError(forKey: .threshold, in: container, debugDescription: "must be between 0 and 1")
        }
    }
}

extension AlertConfiguration.TeamSpendRule {
    enum CodingKeys: String, CodingKey { case enabled, windowSeconds, thresholdUSD, teams }
    public init(from decoder: Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        windowSeconds = try container.decodeIfPresent(Double.self, forKey: .windowSeconds) ?? windowSeconds
        thresholdUSD = try container.decodeIfPresent(Double.self, forKey: .thresholdUSD)
        teams = try container.decodeIfPresent([String: Double].self, forKey: .teams) ?? teams
        guard windowSeconds > 0 else {
            throw DecodingError.dataCorruptedError(forKey: .windowSeconds, in: container, debugDescription: "must be positive")
        }
        guard (thresholdUSD.map { [$0] } ?? []).allSatisfy({ $0 >= 0 }), teams.values.allSatisfy({ $0 >= 0 }) else {
            throw DecodingError.dataCorruptedError(forKey: .teams, in: container, debugDescription: "thresholds are USD amounts ≥ 0")
        }
    }
}

extension AlertConfiguration.WebhookSettings {
    enum CodingKeys: String, CodingKey { case url, timeoutSeconds, maxAttempts }
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(url: try container.decode(String.self, forKey: .url))
        timeoutSeconds = try container.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? timeoutSeconds
        maxAttempts = try container.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? maxAttempts
        guard Self.isWebhookURL(url) else {
            throw DecodingError.dataCorruptedError(forKey: .url, in: container, debugDescription: Self.urlRequirement)
        }
    }
}
