/// One team's quota: limits across all targets, limits per target, and its fair-share weight.
public struct TeamQuota: Sendable, Equatable {
    public var limit: QuotaLimit
    /// Limits on single targets, by target name, on top of `limit`.
    public var targets: [String: QuotaLimit]
    /// The team's share of contended slots relative to other teams' (default 1).
    public var weight: Double

    public init(limit: QuotaLimit = .unlimited, targets: [String: QuotaLimit] = [:], weight: Double = 1) {
        self.limit = limit
        self.targets = targets
        self.weight = weight
    }
}

/// The fleet's quotas: one entry per named team, and defaults for every team not named.
public struct QuotaPolicy: Sendable, Equatable {
    public var defaults: TeamQuota
    public var teams: [String: TeamQuota]

    public init(defaults: TeamQuota = TeamQuota(), teams: [String: TeamQuota] = [:]) {
        self.defaults = defaults
        self.teams = teams
    }

    /// No limits for anyone: the worker then claims nothing on the claims topic.
    public static let unlimited = QuotaPolicy()

    /// Whether any team has a limit (else quotas are off).
    public var limitsAnything: Bool {
        ([defaults] + teams.values).contains { $0.limit != .unlimited || $0.targets.values.contains { $0 != .unlimited } }
    }

    public func quota(team: String) -> TeamQuota { teams[team] ?? defaults }

    /// What a claim of `team` on `target` carries.
    public func limits(team: String, target: String) -> ClaimLimits {
        let quota = quota(team: team)
        return ClaimLimits(team: quota.limit, target: quota.targets[target])
    }

    public func weight(team: String) -> Double { quota(team: team).weight }
}

/// Where a worker reads the quotas in force (a file reloaded when it changes, or a fixed value).
public protocol QuotaPolicySource: Sendable {
    var policy: QuotaPolicy { get }
}

extension QuotaPolicy: QuotaPolicySource {
    public var policy: QuotaPolicy { self }
}
