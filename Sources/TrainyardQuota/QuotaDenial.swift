/// Why a claim was denied: the usage it met and the limit it would have passed.
public struct QuotaDenial: Sendable, Equatable {
    /// Set when the team's limit on this target (not its team-wide one) was the cause.
    public var target: String?
    public var usage: QuotaResources
    public var limit: QuotaLimit
    public var asked: QuotaResources

    /// The QUEUED event's reason, e.g. `team quota: 4 of 4 running` or
    /// `team quota on gpu-cluster: 8 of 8 GPUs in use`.
    public var reason: String {
        let scope = target.map { "team quota on \($0)" } ?? "team quota"
        if let max = limit.maxAttempts, usage.attempts + asked.attempts > max {
            return "\(scope): \(usage.attempts) of \(max) running"
        }
        if let max = limit.maxGPUs, usage.gpus + asked.gpus > max {
            return "\(scope): \(usage.gpus) of \(max) GPUs in use"
        }
        let max = limit.maxCPUs ?? 0
        return "\(scope): \(usage.cpus.formatted) of \(max.formatted) CPUs in use"
    }
}

extension Double {
    /// `4` for whole numbers, `2.5` otherwise.
    fileprivate var formatted: String { rounded() == self ? String(Int(self)) : String(self) }
}
