/// Exponential backoff with full jitter and a cap (the AWS Architecture Blog's "Exponential
/// Backoff And Jitter"): before retry `n` (from 1) wait a random time in
/// `[0, min(cap, base · 2^(n-1))]`.
public struct AWSRetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(maxAttempts: Int = 8, baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(20)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The wait before retry `retry` (1 for the first retry); `random` is uniform in [0, 1].
    public func delay(beforeRetry retry: Int, random: Double = Double.random(in: 0...1)) -> Duration {
        let base = Double(baseDelay.components.seconds) + Double(baseDelay.components.attoseconds) / 1e18
        let cap = Double(maxDelay.components.seconds) + Double(maxDelay.components.attoseconds) / 1e18
        let ceiling = min(cap, base * Double(1 << min(max(0, retry - 1), 30)))
        return .milliseconds(Int64(ceiling * min(1, max(0, random)) * 1000))
    }
}
