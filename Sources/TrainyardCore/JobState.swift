/// The lifecycle state of one attempt of a job.
///
/// Within an attempt, state only moves forward (`rank` grows); terminal states are final.
/// `rejected` is the terminal state of a request that was never valid.
public enum JobState: String, Codable, Sendable, CaseIterable, Comparable {
    case queued = "QUEUED"
    case claimed = "CLAIMED"
    case provisioning = "PROVISIONING"
    case pending = "PENDING"
    case running = "RUNNING"
    case succeeded = "SUCCEEDED"
    case failed = "FAILED"
    case cancelled = "CANCELLED"
    case timedOut = "TIMED_OUT"
    case rejected = "REJECTED"

    /// Position in the forward-only order. All terminal states share the highest rank.
    public var rank: Int {
        switch self {
        case .queued: 0
        case .claimed: 1
        case .provisioning: 2
        case .pending: 3
        case .running: 4
        case .succeeded, .failed, .cancelled, .timedOut, .rejected: 5
        }
    }

    /// True for the states an attempt never leaves.
    public var isTerminal: Bool { rank == 5 }

    public static func < (lhs: JobState, rhs: JobState) -> Bool {
        if lhs.rank != rhs.rank { return lhs.rank < rhs.rank }
        return lhs.tieBreak < rhs.tieBreak
    }

    /// A fixed order among terminal states, used only to make merges deterministic.
    private var tieBreak: Int { JobState.allCases.firstIndex(of: self)! }
}

/// Why an attempt failed: the job's own code, or the platform under it.
public enum FailureClass: String, Codable, Sendable {
    /// The job's code exited non-zero; not retried unless the spec asks.
    case userError = "USER_ERROR"
    /// Capacity, throttling, image pull, node loss, lost supervisor…; retried by default.
    case infrastructure = "INFRASTRUCTURE"
    /// The request itself was invalid.
    case invalidRequest = "INVALID_REQUEST"
}

/// Who reported a state. When two reports of the same attempt disagree about the terminal
/// state, the higher authority wins (DESIGN.md, "Aggregator").
public enum EventSource: String, Codable, Sendable, CaseIterable {
    /// The aggregator itself (QUEUED from the requests topic).
    case aggregator = "aggregator"
    /// A worker's inference (e.g. it lost the process and no outcome was recorded).
    case worker = "worker"
    /// An orchestrator-level condition (e.g. a Kubernetes Job condition).
    case orchestrator = "orchestrator"
    /// The backend's own final description of the job's main container or process.
    case backend = "backend"

    /// Higher wins.
    public var authority: Int {
        switch self {
        case .aggregator: 0
        case .worker: 1
        case .orchestrator: 2
        case .backend: 3
        }
    }
}
