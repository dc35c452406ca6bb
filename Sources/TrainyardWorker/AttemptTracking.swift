import Foundation
import TrainyardBackends
import TrainyardCore

/// The tracking of one attempt as a value: fed what the backend says (an observation, an
/// ensure's result) with the time and the job's cancel request, it returns what to do next.
/// It reads no clock and does no I/O, so every path (launch timeout, capacity backpressure,
/// cancel, heartbeats, adoption) is tested without processes; `JobExecution` carries the steps out.
struct AttemptTracking<Instant: InstantProtocol> where Instant.Duration == Duration {
    /// Something to do now, before the step's `next`.
    enum Effect: Equatable {
        /// Publish this state of the attempt (remembered as the heartbeat to repeat).
        case report(Report)
        /// Re-publish the latest report, with the time it was observed.
        case heartbeat(Report)
        /// Ask the backend to stop the attempt; call `stopRequested()` once it accepted.
        case stop(reason: String)
        /// Tell the worker whether this attempt is held up by the backend's capacity errors.
        case capacityBlocked(Bool)
        /// The attempt is claimed here (counted in the metrics).
        case claimed
    }

    /// What to wait for next.
    enum Next: Equatable {
        /// Create or adopt the attempt's resource; feed the result to `ensured`.
        case ensure
        /// Wait for the backend's next observation after this one; feed it to `observed`.
        case observe(after: BackendObservation)
        /// Wait, then observe afresh (an ensure failed and is retried).
        case observeAfter(Duration)
        /// The attempt ended with the backend's outcome.
        case finished(BackendOutcome)
        /// The attempt ended without the backend (cancelled before it was launched, or invalid there).
        case givenUp(state: JobState, failureClass: FailureClass?, reason: String)
    }

    struct Step: Equatable {
        var effects: [Effect] = []
        var next: Next
    }

    /// One published state of the attempt.
    struct Report: Equatable {
        var state: JobState
        var source: EventSource
        var reason: String?
        /// When it happened, when the backend says; nil: now.
        var at: Date?
    }

    let launchTimeout: Duration
    let heartbeatInterval: Duration
    /// How long to wait before ensuring again after a capacity error, and after any other error.
    let capacityRetry: Duration
    let errorRetry: Duration

    private var published: Set<JobState> = []
    private var pendingReason: String?
    private var launchedAt: Instant?
    private var stopAccepted = false
    private var blocked = false
    private var lastReport: Report?
    private var lastReportedAt: Instant?

    init(launchTimeout: Duration, heartbeatInterval: Duration, capacityRetry: Duration = .seconds(5), errorRetry: Duration = .seconds(1)) {
        self.launchTimeout = launchTimeout
        self.heartbeatInterval = heartbeatInterval
        self.capacityRetry = capacityRetry
        self.errorRetry = errorRetry
    }

    /// The first observation of the attempt: nothing there yet means it is claimed here.
    mutating func started(_ observation: BackendObservation, now: Instant, cancelReason: String?) -> Step {
        var effects: [Effect] = []
        if observation == .absent {
            if let cancelReason { return Step(next: .givenUp(state: .cancelled, failureClass: nil, reason: cancelReason)) }
            effects.append(report(Report(state: .claimed, source: .worker), now: now))
            effects.append(.claimed)
        }
        return observed(observation, now: now, cancelReason: cancelReason, effects: effects)
    }

    /// A later observation.
    mutating func observed(_ observation: BackendObservation, now: Instant, cancelReason: String?) -> Step {
        observed(observation, now: now, cancelReason: cancelReason, effects: [])
    }

    /// The result of `Next.ensure`.
    mutating func ensured(_ result: Result<BackendObservation, BackendError>, now: Instant, cancelReason: String?) -> Step {
        var effects: [Effect] = []
        var outOfCapacity = false
        if case .failure(let error) = result, error.kind == .capacity { outOfCapacity = true }
        if outOfCapacity != blocked {
            blocked = outOfCapacity
            effects.append(.capacityBlocked(blocked))
        }
        switch result {
        case .success(let observation):
            launchedAt = now
            if !published.contains(.provisioning) { effects.append(report(Report(state: .provisioning, source: .worker), now: now)) }
            return observed(observation, now: now, cancelReason: cancelReason, effects: effects)
        case .failure(let error) where error.kind == .invalidRequest:
            return Step(effects: effects, next: .givenUp(state: .failed, failureClass: .invalidRequest, reason: error.message))
        case .failure(let error):
            effects += chores(now: now, cancelReason: cancelReason)
            return Step(effects: effects, next: .observeAfter(error.kind == .capacity ? capacityRetry : errorRetry))
        }
    }

    /// The backend accepted the stop request (`Effect.stop`); it is not asked again.
    mutating func stopRequested() { stopAccepted = true }

    private mutating func observed(_ observation: BackendObservation, now: Instant, cancelReason: String?, effects: [Effect]) -> Step {
        var effects = effects
        switch observation {
        case .absent:
            if let cancelReason, launchedAt == nil {
                // Cancelled before the backend accepted it (e.g. while out of capacity): nothing to stop.
                return Step(effects: effects, next: .givenUp(state: .cancelled, failureClass: nil, reason: cancelReason))
            }
            if launchedAt.map({ $0.duration(to: now) > launchTimeout }) ?? true { return Step(effects: effects, next: .ensure) }
        case .pending(let reason):
            // A new reason before the job runs is news (e.g. "Unschedulable: …" after "pod created").
            if !published.contains(.pending) || (reason != pendingReason && !published.contains(.running)) {
                effects.append(report(Report(state: .pending, source: .backend, reason: reason), now: now))
                pendingReason = reason
            }
        case .running(let since):
            if !published.contains(.running) { effects.append(report(Report(state: .running, source: .backend, at: since), now: now)) }
        case .finished(let outcome):
            if let startedAt = outcome.startedAt, !published.contains(.running) {
                effects.append(report(Report(state: .running, source: .backend, at: startedAt), now: now))
            }
            return Step(effects: effects, next: .finished(outcome))
        }
        effects += chores(now: now, cancelReason: cancelReason)
        return Step(effects: effects, next: .observe(after: observation))
    }

    /// What is due whatever the observation: the stop of a cancelled attempt, the heartbeat.
    private mutating func chores(now: Instant, cancelReason: String?) -> [Effect] {
        var effects: [Effect] = []
        if let cancelReason, !stopAccepted { effects.append(.stop(reason: cancelReason)) }
        if let lastReport, let lastReportedAt, lastReportedAt.duration(to: now) >= heartbeatInterval {
            self.lastReportedAt = now
            effects.append(.heartbeat(lastReport))
        }
        return effects
    }

    private mutating func report(_ report: Report, now: Instant) -> Effect {
        published.insert(report.state)
        lastReport = report
        lastReportedAt = now
        return .report(report)
    }
}
