import Foundation
import TrainyardCore

/// What a backend says about one attempt's resource.
public enum BackendObservation: Sendable, Equatable {
    /// Nothing exists (or nothing was started yet) for this identity.
    case absent
    /// The resource exists but the job's code is not running yet.
    case pending(reason: String?)
    case running(since: Date)
    case finished(BackendOutcome)
}

/// The terminal outcome of one attempt, as the backend recorded it.
public struct BackendOutcome: Sendable, Equatable {
    /// One of the terminal states.
    public var state: JobState
    public var exitCode: Int32?
    public var failureClass: FailureClass?
    public var reason: String?
    public var finishedAt: Date
    /// When the job's code started, if it did.
    public var startedAt: Date?
    /// Who decided the outcome (the backend's own record, or a worker's inference).
    public var source: EventSource
    /// The time the backend bills for the attempt, when it reports one (SageMaker's `BillableTimeInSeconds`).
    public var billedSeconds: Double?

    public init(
        state: JobState, exitCode: Int32? = nil, failureClass: FailureClass? = nil, reason: String? = nil, finishedAt: Date,
        startedAt: Date? = nil, source: EventSource = .backend, billedSeconds: Double? = nil
    ) {
        precondition(state.isTerminal, "an outcome is a terminal state")
        self.state = state
        self.exitCode = exitCode
        self.failureClass = failureClass
        self.reason = reason
        self.finishedAt = finishedAt
        self.startedAt = startedAt
        self.source = source
        self.billedSeconds = billedSeconds
    }
}

/// Why a backend call failed, and whether trying again can help.
public struct BackendError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The request can never succeed (bad spec for this backend, permission denied…).
        case invalidRequest
        /// Out of capacity or quota: pause claiming and try later.
        case capacity
        /// A transient fault (network, throttling): retry with backoff.
        case transient
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// A place that runs job attempts: local processes, SageMaker, Kubernetes.
///
/// Every call is idempotent for a given identity; the worker may call them again after a crash
/// or a rebalance, from another process.
public protocol ComputeBackend: Sendable {
    /// Short name used in events and routing (`local`, `sagemaker`, `kubernetes`).
    var name: String { get }

    /// Creates the attempt's resource, or adopts it when it already exists. Never starts a second copy.
    func ensure(_ identity: BackendIdentity, spec: JobSpec) async throws(BackendError) -> BackendObservation

    /// The backend's current view of the attempt (its own describe call: the authority).
    func observe(_ identity: BackendIdentity) async throws(BackendError) -> BackendObservation

    /// Waits until the attempt's observation may differ from `current`, or until `timeout`
    /// has passed, and returns the backend's view then. Backends that learn of changes (a
    /// watch, an exit notification, a timer) return as soon as they do; the default waits out
    /// `timeout` and observes, which is polling.
    func nextObservation(_ identity: BackendIdentity, after current: BackendObservation, timeout: Duration)
        async throws(BackendError) -> BackendObservation

    /// Stops the attempt; it ends CANCELLED. Stopping a finished or absent attempt does nothing.
    func stop(_ identity: BackendIdentity, reason: String) async throws(BackendError)

    /// Attempt numbers that already have a resource for this job, ascending.
    func existingAttempts(of jobID: JobID) async throws(BackendError) -> [Int]

    /// Background work for the worker's lifetime (see the default implementation).
    func run() async throws
}

extension ComputeBackend {
    public func nextObservation(_ identity: BackendIdentity, after current: BackendObservation, timeout: Duration)
        async throws(BackendError) -> BackendObservation
    {
        do { try await Task.sleep(for: timeout) } catch { throw BackendError(.transient, "cancelled while waiting to observe") }
        return try await observe(identity)
    }

    /// Background work the backend needs for the worker's lifetime (watch streams, event
    /// queues); returns when its task is cancelled. Backends that only answer calls need none.
    public func run() async throws {}
}
