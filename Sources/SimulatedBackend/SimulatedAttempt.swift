import Foundation
import TrainyardBackends
import TrainyardCore

/// One simulated attempt as the state file records it: its whole timeline is fixed when it is
/// created, so any process that reads the record computes the same observation at the same
/// moment; only a stop changes it afterwards.
public struct SimulatedAttempt: Sendable, Equatable {
    public var resourceName: String
    public var jobID: JobID
    public var attempt: Int
    public var team: String
    public var createdAt: Date
    /// When the job "starts running" (PENDING before).
    public var startsAt: Date
    /// When it ends by itself with `outcome`.
    public var endsAt: Date
    /// When its max runtime runs out (TIMED_OUT if that comes first).
    public var timesOutAt: Date
    public var outcome: SimulatedOutcome
    public var exitCode: Int32
    /// When a stop was recorded (CANCELLED if that comes before the other ends).
    public var stoppedAt: Date?
    public var stopReason: String?

    /// The timeline of a new attempt of `identity` created at `now`.
    init(identity: BackendIdentity, script: SimulatedScript, maxRuntimeSeconds: Int, now: Date) {
        resourceName = identity.resourceName
        jobID = identity.jobID
        attempt = identity.attempt
        team = identity.team
        createdAt = now
        startsAt = now.addingTimeInterval(script.pendingSeconds)
        endsAt = startsAt.addingTimeInterval(script.runSeconds)
        timesOutAt = startsAt.addingTimeInterval(Double(maxRuntimeSeconds))
        outcome = script.drawnOutcome(for: identity.resourceName)
        exitCode = outcome == .failed ? script.exitCode : 0
    }

    init(
        resourceName: String, jobID: JobID, attempt: Int, team: String, createdAt: Date, startsAt: Date, endsAt: Date, timesOutAt: Date,
        outcome: SimulatedOutcome, exitCode: Int32, stoppedAt: Date?, stopReason: String?
    ) {
        self.resourceName = resourceName
        self.jobID = jobID
        self.attempt = attempt
        self.team = team
        self.createdAt = createdAt
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.timesOutAt = timesOutAt
        self.outcome = outcome
        self.exitCode = exitCode
        self.stoppedAt = stoppedAt
        self.stopReason = stopReason
    }

    /// The reason PENDING carries until the simulated start.
    static let pendingReason = "simulated: waiting to start"

    /// What the backend reports at `now`.
    public func observation(at now: Date) -> BackendObservation {
        let (at, end) = firstEnd
        if at <= now { return .finished(backendOutcome(at: at, end)) }
        return now < startsAt ? .pending(reason: Self.pendingReason) : .running(since: startsAt)
    }

    /// The next moment after `now` at which `observation` changes, nil once it is final.
    func nextChange(after now: Date) -> Date? {
        let (at, _) = firstEnd
        if at <= now { return nil }
        return now < startsAt ? min(startsAt, at) : at
    }

    private enum End { case natural, timeout, stop }

    /// The earliest of the natural end, the timeout and the stop (in that order on ties: an
    /// attempt whose code already ended is not cancelled).
    private var firstEnd: (Date, End) {
        var first: (Date, End) = (endsAt, .natural)
        if timesOutAt < first.0 { first = (timesOutAt, .timeout) }
        if let stoppedAt, stoppedAt < first.0 { first = (stoppedAt, .stop) }
        return first
    }

    private func backendOutcome(at finishedAt: Date, _ end: End) -> BackendOutcome {
        let startedAt = finishedAt > startsAt ? startsAt : nil
        switch end {
        case .stop:
            return BackendOutcome(state: .cancelled, reason: stopReason, finishedAt: finishedAt, startedAt: startedAt)
        case .timeout:
            let limit = Int(timesOutAt.timeIntervalSince(startsAt).rounded())
            return BackendOutcome(
                state: .timedOut, reason: "simulated: ran past maxRuntimeSeconds=\(limit)", finishedAt: finishedAt, startedAt: startsAt)
        case .natural:
            switch outcome {
            case .succeeded:
                return BackendOutcome(state: .succeeded, exitCode: 0, finishedAt: finishedAt, startedAt: startsAt)
            case .failed:
                return BackendOutcome(
                    state: .failed, exitCode: exitCode, failureClass: .userError, reason: "simulated: exit code \(exitCode)",
                    finishedAt: finishedAt, startedAt: startsAt)
            case .infrastructureFailure:
                return BackendOutcome(
                    state: .failed, failureClass: .infrastructure, reason: "simulated: infrastructure failure", finishedAt: finishedAt,
                    startedAt: startsAt)
            }
        }
    }
}
