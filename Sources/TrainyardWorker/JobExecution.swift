import Foundation
import Logging
import TrainyardBackends
import TrainyardCore

/// One job's way through its attempts on one backend: claim, ensure (create or adopt), track
/// until terminal, retry by policy. Every step is safe to repeat after a crash or hand-over:
/// the attempt to work on is found from the backend's own resources, and events are facts that
/// the aggregator folds idempotently.
struct JobExecution {
    let command: SubmitCommand
    let backend: any ComputeBackend
    /// The target's prices: the terminal event carries the attempt's cost.
    let pricing: any AttemptPricing
    let tracker: JobTracker
    let publisher: EventPublisher
    let workerID: String
    let observeInterval: Duration
    /// How often an attempt in flight is re-reported (with `observedAt`) while nothing changes.
    let heartbeatInterval: Duration
    let launchTimeout: Duration
    let metrics: WorkerMetrics
    let logger: Logger
    /// Attempts the backend was found to have just before this execution (an adopted job); empty
    /// for a job that waited for a slot, whose attempts are listed afresh.
    let knownAttempts: [Int]
    /// Told `true` while ensure keeps failing for lack of capacity (the worker then stops
    /// claiming work), `false` once it succeeds or the attempt is given up.
    let capacityBlocked: @Sendable (Bool) async -> Void

    private var spec: JobSpec { command.spec }

    /// Returns true when the job reached its final state here, false when it was handed over.
    func run() async -> Bool {
        if tracker.handedOver { return false }
        do {
            var attempt = try await firstAttempt()
            while true {
                let identity = BackendIdentity(jobID: command.jobID, attempt: attempt, team: spec.team)
                guard let outcome = try await runAttempt(identity) else { return false }
                let retry =
                    RetryPolicyDecision.shouldRetry(state: outcome.state, failureClass: outcome.failureClass, attempt: attempt, policy: spec.retry)
                    && tracker.cancelReason == nil
                let delay = RetryPolicyDecision.backoff(afterAttempt: attempt, policy: spec.retry)
                if retry {
                    // The next attempt is announced before this one's outcome, so the job (whose
                    // state is its latest attempt's) never shows a terminal state that is not final.
                    let next = BackendIdentity(jobID: command.jobID, attempt: attempt + 1, team: spec.team)
                    try await post(
                        next, .queued, source: .worker,
                        reason: "retry in \(delay) after attempt \(attempt): \(outcome.reason ?? outcome.state.rawValue)")
                }
                try await publish(identity, outcome: outcome)
                guard retry else { return true }
                logger.info("retrying", metadata: ["job": "\(command.jobID)", "attempt": "\(attempt + 1)", "delay": "\(delay)"])
                try await sleep(delay)
                if tracker.handedOver { return false }
                attempt += 1
            }
        } catch {
            logger.info(
                "job no longer tracked here (\(error is CancellationError ? "handed over" : "\(error)"))", metadata: ["job": "\(command.jobID)"])
            return false
        }
    }

    /// The latest attempt the backend already has for this job (after a hand-over), or 1.
    private func firstAttempt() async throws -> Int {
        if let latest = knownAttempts.last { return latest }
        while true {
            do {
                return try await backend.existingAttempts(of: command.jobID).last ?? 1
            } catch {
                logger.warning("listing attempts failed, retrying: \(error)", metadata: ["job": "\(command.jobID)"])
                try await sleep(.seconds(1))
                if tracker.handedOver { throw CancellationError() }
            }
        }
    }

    /// Runs one attempt to its outcome (not yet published); nil when handed over first.
    private func runAttempt(_ identity: BackendIdentity) async throws -> BackendOutcome? {
        let metadata: Logger.Metadata = [
            "job": "\(command.jobID)", "attempt": "\(identity.attempt)", "team": "\(spec.team)", "backend": "\(backend.name)",
        ]
        guard let outcome = try await trackAttempt(identity) else {
            logger.info("handed over", metadata: metadata)
            await holdSlotWhileRunning(identity)
            return nil
        }
        metrics.attemptsFinished.labels(backend.name, outcome.state.rawValue).increment()
        var finished = metadata
        finished["state"] = "\(outcome.state.rawValue)"
        if let exitCode = outcome.exitCode { finished["exit"] = "\(exitCode)" }
        logger.info("attempt finished", metadata: finished)
        return outcome
    }

    /// Carries out `AttemptTracking`'s steps: the backend calls, the events, the waits.
    private func trackAttempt(_ identity: BackendIdentity) async throws -> BackendOutcome? {
        var tracking = AttemptTracking<ContinuousClock.Instant>(launchTimeout: launchTimeout, heartbeatInterval: heartbeatInterval)
        var step = tracking.started(try await observeRetrying(identity), now: .now, cancelReason: tracker.cancelReason)
        while true {
            if tracker.handedOver { return nil }
            for effect in step.effects {
                switch effect {
                case .report(let report):
                    try await publisher.post(event(identity, report))
                case .heartbeat(let report):
                    var heartbeat = event(identity, report)
                    heartbeat.observedAt = Date()
                    try await publisher.post(heartbeat)
                case .stop(let reason):
                    logger.info("stopping", metadata: ["job": "\(command.jobID)", "attempt": "\(identity.attempt)", "reason": "\(reason)"])
                    do {
                        try await backend.stop(identity, reason: reason)
                        tracking.stopRequested()
                    } catch {
                        logger.warning("stop failed, retrying: \(error)", metadata: ["job": "\(command.jobID)"])
                    }
                case .capacityBlocked(let blocked):
                    await capacityBlocked(blocked)
                case .claimed:
                    metrics.attemptsStarted.labels(backend.name).increment()
                }
            }
            switch step.next {
            case .finished(let outcome):
                return outcome
            case .givenUp(let state, let failureClass, let reason):
                return BackendOutcome(state: state, failureClass: failureClass, reason: reason, finishedAt: Date(), source: .worker)
            case .ensure:
                let result = await ensure(identity)
                if case .failure(let error) = result, error.kind != .invalidRequest {
                    logger.warning("ensure failed, retrying: \(error)", metadata: ["job": "\(command.jobID)", "attempt": "\(identity.attempt)"])
                }
                step = tracking.ensured(result, now: .now, cancelReason: tracker.cancelReason)
            case .observe(let current):
                let observation = try await nextObservation(identity, after: current)
                step = tracking.observed(observation, now: .now, cancelReason: tracker.cancelReason)
            case .observeAfter(let delay):
                try await sleep(delay)
                step = tracking.observed(try await observeRetrying(identity), now: .now, cancelReason: tracker.cancelReason)
            }
        }
    }

    /// After a hand-over the attempt may still run here (the local backend's processes stay on this
    /// host): keep its concurrency slot until it ends, observing silently (the new owner publishes),
    /// so this worker does not start new work on top of it. Ends early when the worker shuts down.
    private func holdSlotWhileRunning(_ identity: BackendIdentity) async {
        var observation = try? await backend.observe(identity)
        while !Task.isCancelled, let current = observation {
            switch current {
            case .running, .pending: break
            default: return
            }
            observation = try? await backend.nextObservation(identity, after: current, timeout: observeInterval)
        }
    }

    private func ensure(_ identity: BackendIdentity) async -> Result<BackendObservation, BackendError> {
        do { return .success(try await backend.ensure(identity, spec: spec)) } catch { return .failure(error) }
    }

    /// The attempt's next observation: pushed by the backend when it learns of a change, else
    /// read after `observeInterval`.
    private func nextObservation(_ identity: BackendIdentity, after current: BackendObservation) async throws -> BackendObservation {
        do {
            return try await backend.nextObservation(identity, after: current, timeout: observeInterval)
        } catch {
            try Task.checkCancellation()
            logger.warning("observe failed, retrying: \(error)", metadata: ["job": "\(command.jobID)"])
            try await sleep(.seconds(1))
            if tracker.handedOver { throw CancellationError() }
            return try await observeRetrying(identity)
        }
    }

    private func observeRetrying(_ identity: BackendIdentity) async throws -> BackendObservation {
        while true {
            do {
                return try await backend.observe(identity)
            } catch {
                logger.warning("observe failed, retrying: \(error)", metadata: ["job": "\(command.jobID)"])
                try await sleep(.seconds(1))
                if tracker.handedOver { throw CancellationError() }
            }
        }
    }

    /// Posts a non-terminal event (its delivery gates nothing: see `EventPublisher.post`).
    private func post(_ identity: BackendIdentity, _ state: JobState, source: EventSource, at time: Date = Date(), reason: String? = nil)
        async throws
    {
        try await publisher.post(event(identity, state, source: source, at: time, reason: reason))
    }

    private func event(_ identity: BackendIdentity, _ state: JobState, source: EventSource, at time: Date = Date(), reason: String? = nil)
        -> LifecycleEvent
    {
        LifecycleEvent(
            jobID: command.jobID, attempt: identity.attempt, state: state, source: source, occurredAt: time, team: spec.team,
            backend: backend.name, resourceName: identity.resourceName, reason: reason, workerID: workerID)
    }

    private func event(_ identity: BackendIdentity, _ report: AttemptTracking<ContinuousClock.Instant>.Report) -> LifecycleEvent {
        event(identity, report.state, source: report.source, at: report.at ?? Date(), reason: report.reason)
    }

    private func publish(_ identity: BackendIdentity, outcome: BackendOutcome) async throws {
        let charge = AttemptCharge(
            outcome: outcome, price: pricing.hourlyPrice(for: spec), backendReportsBilledTime: pricing.backendReportsBilledTime)
        try await publisher.publish(
            LifecycleEvent(
                jobID: command.jobID, attempt: identity.attempt, state: outcome.state, source: outcome.source, occurredAt: outcome.finishedAt,
                team: spec.team, backend: backend.name, resourceName: identity.resourceName, exitCode: outcome.exitCode,
                failureClass: outcome.failureClass, reason: outcome.reason, workerID: workerID, costUSD: charge.costUSD,
                billedSeconds: charge.billedSeconds, costIsEstimate: charge.isEstimate ? true : nil))
    }

    private func sleep(_ duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}
