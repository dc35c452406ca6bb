import Foundation
import Synchronization
import TrainyardBackends
import TrainyardCore

/// Settings of the simulated backend.
public struct SimulatedBackendConfiguration: Sendable {
    /// The per-host state file, shared by every worker on the host that runs simulated attempts.
    public var stateFile: URL
    /// What an attempt does unless the job's labels say otherwise.
    public var script: SimulatedScript
    /// The wall clock the timelines are written in (tests inject their own).
    public var now: @Sendable () -> Date

    public init(stateFile: URL, script: SimulatedScript = SimulatedScript(), now: @escaping @Sendable () -> Date = { Date() }) {
        self.stateFile = stateFile
        self.script = script
        self.now = now
    }
}

/// Attempts that "run" for a scripted time and end with a scripted outcome, for load tests,
/// chaos at scale and pipeline dry runs. Nothing is executed.
///
/// It keeps the whole backend contract through `SimulatedAttemptLedger`, the host's durable
/// state: the create is keyed by the attempt's resource name, so a re-delivered request, a
/// second worker or a successor after `kill -9` adopts the attempt instead of starting it again;
/// the timeline is fixed at the create and read back by whoever observes, so the attempt keeps
/// "running" and ends on time while no worker watches it, exactly like a remote job. Stop records
/// a cancel time (CANCELLED); the spec's max runtime ends it TIMED_OUT.
///
/// Rows are immutable but for a stop, so this process caches the ones it created or read:
/// `nextObservation` sleeps until the attempt's next scripted change (or the caller's timeout)
/// and answers from the cache, reading the file only for the outcome (so a stop recorded by
/// another process decides it). `observe` is the describe call and always reads the file.
public final class SimulatedBackend: ComputeBackend {
    public let name = "simulated"
    public let configuration: SimulatedBackendConfiguration
    private let ledger: SimulatedAttemptLedger
    /// Attempts this process created or read, by resource name; finished ones are dropped.
    private let cache = Mutex<[String: SimulatedAttempt]>([:])

    /// Opens (creating if needed) the state file; fails when the default script is out of range.
    public init(configuration: SimulatedBackendConfiguration) throws {
        try configuration.script.validate()
        self.configuration = configuration
        ledger = try SimulatedAttemptLedger(path: configuration.stateFile.path)
    }

    /// The state file (for tests and tools that audit it).
    public var attemptLedger: SimulatedAttemptLedger { ledger }

    public func ensure(_ identity: BackendIdentity, spec: JobSpec) async throws(BackendError) -> BackendObservation {
        if let known = cache.withLock({ $0[identity.resourceName] }) { return remember(known) }
        let script = try configuration.script.applying(labels: spec.labels)
        let planned = SimulatedAttempt(identity: identity, script: script, maxRuntimeSeconds: spec.maxRuntimeSeconds, now: configuration.now())
        do {
            return remember(try await ledger.create(planned))
        } catch {
            throw BackendError(.transient, "cannot record \(identity) in \(configuration.stateFile.path): \(error)")
        }
    }

    public func observe(_ identity: BackendIdentity) async throws(BackendError) -> BackendObservation {
        let stored: SimulatedAttempt?
        do { stored = try ledger.attempt(named: identity.resourceName) } catch {
            throw BackendError(.transient, "cannot read \(identity) from \(configuration.stateFile.path): \(error)")
        }
        guard let stored else { return .absent }
        return remember(stored)
    }

    public func nextObservation(_ identity: BackendIdentity, after current: BackendObservation, timeout: Duration)
        async throws(BackendError) -> BackendObservation
    {
        guard let known = cache.withLock({ $0[identity.resourceName] }) else {
            // Not created or read here yet (or already finished): the file decides.
            let observation = try await observe(identity)
            if observation != current { return observation }
            return try await sleepThenObserve(identity, for: timeout)
        }
        let now = configuration.now()
        if known.observation(at: now) != current { return try await answer(identity, from: known) }
        var wait = timeout
        if let change = known.nextChange(after: now) {
            // A millisecond late rather than early: waking just before the change would observe nothing new.
            wait = min(timeout, .milliseconds(Int64((change.timeIntervalSince(now) * 1000).rounded(.up)) + 1))
        }
        do { try await Task.sleep(for: wait) } catch { throw BackendError(.transient, "cancelled while waiting to observe") }
        return try await answer(identity, from: cache.withLock { $0[identity.resourceName] } ?? known)
    }

    /// The observation from the cached row; an outcome is read from the file first, so that a
    /// stop another process recorded decides it.
    private func answer(_ identity: BackendIdentity, from cached: SimulatedAttempt) async throws(BackendError) -> BackendObservation {
        if case .finished = cached.observation(at: configuration.now()) { return try await observe(identity) }
        return remember(cached)
    }

    public func stop(_ identity: BackendIdentity, reason: String) async throws(BackendError) {
        do {
            if let stored = try await ledger.stop(identity.resourceName, reason: reason, at: configuration.now()) { _ = remember(stored) }
        } catch {
            throw BackendError(.transient, "cannot record the stop of \(identity) in \(configuration.stateFile.path): \(error)")
        }
    }

    public func existingAttempts(of jobID: JobID) async throws(BackendError) -> [Int] {
        do { return try ledger.attempts(of: jobID) } catch {
            throw BackendError(.transient, "cannot list the attempts of \(jobID) in \(configuration.stateFile.path): \(error)")
        }
    }

    /// The attempt's observation now; caches the row while the attempt is not finished.
    private func remember(_ attempt: SimulatedAttempt) -> BackendObservation {
        let observation = attempt.observation(at: configuration.now())
        cache.withLock { cache in
            if case .finished = observation {
                cache[attempt.resourceName] = nil
            } else {
                cache[attempt.resourceName] = attempt
            }
        }
        return observation
    }

    private func sleepThenObserve(_ identity: BackendIdentity, for timeout: Duration) async throws(BackendError) -> BackendObservation {
        do { try await Task.sleep(for: timeout) } catch { throw BackendError(.transient, "cancelled while waiting to observe") }
        return try await observe(identity)
    }
}
