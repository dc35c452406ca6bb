import Foundation
import TrainyardCore
import TrainyardQuota

/// Limits and timings of the HTTP API; every parameter has a default.
public struct APIConfiguration: Sendable {
    /// Largest body of `POST /v1/jobs` (a spec's own limit); larger ones get 413.
    public var maxSpecBytes: Int
    /// Largest body of the other POSTs (cancel, login).
    public var maxSmallBodyBytes: Int
    /// How long `POST /v1/jobs` waits, after the broker took the request, for the store to show the
    /// job (so a GET right after finds it); 202 either way.
    public var submitVisibilityWait: Duration
    /// The workers' secret policy: a submit whose secrets no backend target allows its team gets 400.
    public var secretPolicy: SecretPolicy
    /// The clock `submitVisibilityWait` is measured and slept on.
    public var clock: any Clock<Duration>
    /// The workers' quotas (the same file, `aggregator --quotas`), shown against each team's usage
    /// on the dashboard; nil: the dashboard shows usage and held jobs without limits.
    public var quotas: (any QuotaPolicySource)?

    public init(
        maxSpecBytes: Int = JobSpecParser.maxDocumentBytes, maxSmallBodyBytes: Int = 16 * 1024, submitVisibilityWait: Duration = .seconds(2),
        secretPolicy: SecretPolicy = .ownTeamOnly, clock: any Clock<Duration> = ContinuousClock(), quotas: (any QuotaPolicySource)? = nil
    ) {
        self.maxSpecBytes = maxSpecBytes
        self.maxSmallBodyBytes = maxSmallBodyBytes
        self.submitVisibilityWait = submitVisibilityWait
        self.secretPolicy = secretPolicy
        self.clock = clock
        self.quotas = quotas
    }
}

/// Publishes a submit or cancel command to the requests topic and returns once it is durable.
/// The API never writes the store: the aggregator applies what the topic carries.
public typealias JobRequestSender = @Sendable (JobRequest) async throws -> Void
