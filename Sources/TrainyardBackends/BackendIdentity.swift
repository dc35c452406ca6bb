import TrainyardCore

/// The one backend resource that belongs to one attempt of one job.
///
/// The name is derived only from (job id, attempt), so every worker that ever handles the attempt
/// computes the same name: creating it twice finds the first one (and adopts it) instead of
/// starting a second copy. Valid as a SageMaker name (`[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`) and
/// a Kubernetes DNS label (lowercase, ≤ 63 characters).
public struct BackendIdentity: Sendable, Hashable, CustomStringConvertible {
    public let jobID: JobID
    public let attempt: Int
    public let team: String

    public init(jobID: JobID, attempt: Int, team: String) {
        precondition(attempt >= 1, "attempts are numbered from 1")
        self.jobID = jobID
        self.attempt = attempt
        self.team = team
    }

    /// `ty-<job id>-a<attempt>`, at most 3 + 26 + 2 + 2 = 33 characters.
    public var resourceName: String { "ty-\(jobID.rawValue)-a\(attempt)" }

    /// The attempt number in `name` when it is this scheme's resource name for `jobID`
    /// (`ty-<job id>-a<n>`, n from 1 to `JobSpecValidator.maxAttempts`, written as `String(n)`
    /// writes it); nil for any other name. Names, labels and tags read back from a backend are
    /// untrusted: whoever can create resources there can write anything into them.
    public static func attempt(inResourceName name: String, of jobID: JobID) -> Int? {
        let prefix = "ty-\(jobID.rawValue)-a"
        guard name.hasPrefix(prefix) else { return nil }
        let digits = String(name.dropFirst(prefix.count))
        guard let attempt = Int(digits), String(attempt) == digits, (1...JobSpecValidator.maxAttempts).contains(attempt) else { return nil }
        return attempt
    }

    /// Tags / labels every backend resource carries.
    public var labels: [String: String] {
        ["trainyard.io/job-id": jobID.rawValue, "trainyard.io/attempt": String(attempt), "trainyard.io/team": team]
    }

    public var description: String { resourceName }
}
