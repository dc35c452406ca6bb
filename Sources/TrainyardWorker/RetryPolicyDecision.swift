import Foundation
import TrainyardCore

/// What to do after an attempt ended: the pure part of retries.
public enum RetryPolicyDecision {
    /// Whether `outcome` of attempt `attempt` earns another attempt under `policy`.
    public static func shouldRetry(state: JobState, failureClass: FailureClass?, attempt: Int, policy: RetryPolicy) -> Bool {
        guard state == .failed, attempt < policy.maxAttempts else { return false }
        switch failureClass {
        case .infrastructure: return true
        case .userError: return policy.retryOnUserError
        case .invalidRequest, nil: return false
        }
    }

    /// Exponential backoff with full jitter: a random delay in [0, base · 2^(attempt-1)], capped at 10 minutes.
    public static func backoff(afterAttempt attempt: Int, policy: RetryPolicy, random: Double = Double.random(in: 0...1)) -> Duration {
        let ceiling = min(600, policy.backoffSeconds * pow(2, Double(max(0, attempt - 1))))
        return .milliseconds(Int64(ceiling * random * 1000))
    }
}
