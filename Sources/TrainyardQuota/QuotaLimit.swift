/// What one claim uses: one running job, with its GPUs and CPUs as requested in its spec.
public struct QuotaResources: Codable, Sendable, Equatable {
    public var attempts: Int
    public var gpus: Int
    public var cpus: Double

    public init(attempts: Int = 1, gpus: Int = 0, cpus: Double = 0) {
        self.attempts = attempts
        self.gpus = gpus
        self.cpus = cpus
    }

    public static let zero = QuotaResources(attempts: 0)

    static func + (lhs: QuotaResources, rhs: QuotaResources) -> QuotaResources {
        QuotaResources(attempts: lhs.attempts + rhs.attempts, gpus: lhs.gpus + rhs.gpus, cpus: lhs.cpus + rhs.cpus)
    }

    static func - (lhs: QuotaResources, rhs: QuotaResources) -> QuotaResources {
        QuotaResources(attempts: lhs.attempts - rhs.attempts, gpus: lhs.gpus - rhs.gpus, cpus: lhs.cpus - rhs.cpus)
    }
}

/// Maximum usage of one team (or one team on one target); nil means no limit on that resource.
public struct QuotaLimit: Codable, Sendable, Equatable {
    public var maxAttempts: Int?
    public var maxGPUs: Int?
    public var maxCPUs: Double?

    public init(maxAttempts: Int? = nil, maxGPUs: Int? = nil, maxCPUs: Double? = nil) {
        self.maxAttempts = maxAttempts
        self.maxGPUs = maxGPUs
        self.maxCPUs = maxCPUs
    }

    /// No limit at all.
    public static let unlimited = QuotaLimit()

    /// Whether `usage` stays within every limit set here.
    public func admits(_ usage: QuotaResources) -> Bool {
        if let maxAttempts, usage.attempts > maxAttempts { return false }
        if let maxGPUs, usage.gpus > maxGPUs { return false }
        if let maxCPUs, usage.cpus > maxCPUs + 1e-9 { return false }
        return true
    }
}

/// The limits a claim is judged by: the team's, and the team's on the claim's target if set.
public struct ClaimLimits: Codable, Sendable, Equatable {
    public var team: QuotaLimit
    public var target: QuotaLimit?

    public init(team: QuotaLimit, target: QuotaLimit? = nil) {
        self.team = team
        self.target = target
    }
}
